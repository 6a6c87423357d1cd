"""``coupe import``: scan the scanner drop folders once or continuously, without the server."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe import`` to ``app`` (nothing yet)."""
    del app
