"""``coupe simulate``: the region under routing policies, compared (what sharing buys)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe simulate`` to ``app``."""
