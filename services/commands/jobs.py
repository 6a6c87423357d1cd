"""``coupe jobs``: list the tiling jobs and retry failed ones."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe jobs`` to ``app`` (nothing yet)."""
    del app
