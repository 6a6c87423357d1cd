"""Request and response bodies, one module per resource (separate from the table models)."""
