"""Core of the queue system: app factory, models, the queue engine and its pure policy."""
