"""The dashboard's screens, one module each, and the playback machinery they share."""
