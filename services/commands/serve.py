"""``coupe serve``: run the backoffice on the ``COUPE_*`` settings."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe serve`` to ``app``."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Start the backoffice (migrations run and data folders are made on start)."""
    import uvicorn

    from services.app import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info")
