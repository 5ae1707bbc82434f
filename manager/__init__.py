"""manager console."""
