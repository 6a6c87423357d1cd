"""``coupe admin ...``: accounts on the command line (the first admin of a new installation)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe admin`` to ``app`` (nothing yet)."""
    del app
