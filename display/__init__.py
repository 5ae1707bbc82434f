"""display terminal."""
