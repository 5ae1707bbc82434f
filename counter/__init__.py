"""counter terminal."""
