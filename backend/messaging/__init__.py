"""Messages that reach the customer when the page is closed: the outbox, its sender, SMS."""
