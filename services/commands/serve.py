"""``coupe serve``: run the backoffice on the ``COUPE_*`` settings."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``coupe serve`` to ``app``."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes (default: one per core).", min=1),
    ] = None,
) -> None:
    """Start the backoffice (migrations run and data folders are made on start)."""
    import uvicorn

    from services.app import create_app, prepare_storage
    from services.settings import Settings

    settings = Settings()
    # Once, before any worker starts: workers then find the schema at head and the key made.
    prepare_storage(settings)
    settings.resolved_secret_key()
    processes = workers or os.cpu_count() or 1
    if processes == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    # Several processes: each builds its app from the same COUPE_* environment. Tile serving
    # is Python-bound per request, so processes, not threads, are what scale it. They share
    # their metrics through files in one folder, named to prometheus-client (which reads the
    # variable when imported, in each worker) before any worker starts; /metrics sums them.
    from services.metrics import prepare_multiprocess_dir

    metrics_dir = prepare_multiprocess_dir(settings.data_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run(
            "services.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_level="info",
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
