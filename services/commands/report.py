"""``coupe report``: the capacity report of a period as HTML, CSV, XLSX or JSON."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe report`` to ``app``."""
