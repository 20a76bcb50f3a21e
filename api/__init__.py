"""lvyue HTTP API (FastAPI)."""
