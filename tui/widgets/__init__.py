"""The dashboard's widgets, one per module; each styles itself in DEFAULT_CSS."""
