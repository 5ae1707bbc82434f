"""kiosk terminal."""
