"""``coupe region ...``: load the region file (departments, pathologists, rosters)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe region`` to ``app`` (nothing yet)."""
    del app
