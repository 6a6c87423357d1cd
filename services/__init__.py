"""The backoffice: the composition root (CLI, and later the FastAPI app and job runner)."""
