"""The terminal app's widgets."""
