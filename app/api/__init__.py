"""The HTTP side API (FastAPI)."""
