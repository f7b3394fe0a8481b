"""Railway hotline voice platform."""
