"""``coupe demo``: prepare the demo in ``COUPE_DATA_DIR`` (default ``.coupe/demo``), then serve it.

The demo lives in one data directory, the same that ``COUPE_DATA_DIR=<dir> coupe serve``
serves: its default database, its slide folder and its pyramid folder. A file ``demo.json``
there says what state the demo is in: "preparing" while it is made, "ready" once it is. A
ready demo is reused as it is (accounts, annotations and reports people made stay); one left
half-made by an interrupted run holds nothing of anyone's and is made again; a data directory
with a database but no demo file is not touched without ``--reset``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from services.commands.demo_backoffice import (
    DEMO_PASSWORD,
    DemoAccount,
    DemoSetupError,
    accounts_table,
    create_demo_accounts,
    prebuild_pyramids,
    side_by_side_for_all,
)
from services.settings import Settings
from tiling.errors import TilingError
from worklist.db import DEFAULT_DATABASE_FILE

__all__ = ["DEFAULT_DEMO_DIR", "DEMO_MARKER", "demo", "prepare_demo", "register"]

DEFAULT_DEMO_DIR = Path(".coupe") / "demo"
DEMO_MARKER = "demo.json"
_MARKER_VERSION = 1
USAGE_ERROR_EXIT = 2
# What the demo makes in its data directory, and so what --reset removes. The secret key
# stays: it signs nothing that outlives the database.
_DEMO_MADE = (
    DEFAULT_DATABASE_FILE,
    *(DEFAULT_DATABASE_FILE + suffix for suffix in ("-wal", "-shm", "-journal")),
    "slides",
    "pyramids",
    "import",
    "dask-worker-space",
    DEMO_MARKER,
)


def register(app: typer.Typer) -> None:
    """Add ``coupe demo`` to ``app``."""
    app.command("demo")(demo)


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(code=USAGE_ERROR_EXIT)


def _demo_settings(data_dir: Path) -> Settings:
    # The data directory's own database, whatever COUPE_DATABASE_URL says: the demo is one folder.
    return Settings(data_dir=data_dir, database_url=None)


def _read_marker(data_dir: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((data_dir / DEMO_MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": "unreadable"}
    return marker if isinstance(marker, dict) else {"state": "unreadable"}


def _write_marker(data_dir: Path, **fields: Any) -> None:
    partial = data_dir / f".{DEMO_MARKER}.partial"
    partial.write_text(json.dumps({"version": _MARKER_VERSION, **fields}, indent=2) + "\n")
    os.replace(partial, data_dir / DEMO_MARKER)


def _remove_demo(data_dir: Path) -> None:
    for name in _DEMO_MADE:
        path = data_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def prepare_demo(console: Console, data_dir: Path, *, now: datetime) -> list[DemoAccount]:
    """Make the whole demo in the (demo-free) ``data_dir``; the accounts made."""
    from services.app import start_state
    from services.commands.demo_slides import prepare_demo_tissues
    from services.commands.demo_worklist import run_worklist_demo

    data_dir.mkdir(parents=True, exist_ok=True)
    _write_marker(data_dir, state="preparing", started_at=now.isoformat())
    settings = Settings(data_dir=data_dir, database_url=None, run_background_workers=False)
    console.rule("Coupe demo: real-tissue slides")
    tissues = prepare_demo_tissues(console, settings)
    for tissue in tissues:
        console.print(
            f"{tissue.name}: {tissue.width_px:,} x {tissue.height_px:,} px at 0.499 µm/px, "
            f"H&E and IHC ({tissue.he_file.parent})"
        )
    state = start_state(settings)
    try:
        console.rule("Coupe demo: the regional worklist")
        worklist = run_worklist_demo(console, engine=state.engine, now=now, tissues=tissues)
        console.rule("Coupe demo: the backoffice")
        accounts = create_demo_accounts(engine=state.engine, snapshot=worklist.snapshot)
        side_by_side_for_all(state=state, accounts=accounts, tissues=tissues)
        done, failed = prebuild_pyramids(console, state=state, accounts=accounts, tissues=tissues)
        console.print(
            f"{done} slides have pre-built pyramids (tiling jobs"
            + (f", {failed} failed" if failed else "")
            + "); every other slide is tiled on the fly from its file."
        )
    finally:
        state.close()
    _write_marker(
        data_dir,
        state="ready",
        prepared_at=now.isoformat(),
        accounts=[asdict(account) for account in accounts],
    )
    return accounts


def _print_how_to_use(console: Console, accounts: list[DemoAccount], host: str, port: int) -> None:
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"The platform: http://{shown_host}:{port}/", markup=False, highlight=False)
    console.print(accounts_table(accounts))
    console.print(f"Password for every account: {DEMO_PASSWORD}", markup=False)


def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo's data and prepare it afresh.")
    ] = False,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Prepare the demo only; do not start the platform.")
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """Prepare the demo in COUPE_DATA_DIR (default .coupe/demo) and start the platform on it:
    a week of the region's cases up to today, 65 weeks of signed-out history before it (for the
    capacity reports), real-tissue slides, demo accounts."""
    console = Console()
    err = Console(stderr=True)
    data_dir = Path(os.environ.get("COUPE_DATA_DIR") or DEFAULT_DEMO_DIR).resolve()
    marker = _read_marker(data_dir)
    has_database = (data_dir / DEFAULT_DATABASE_FILE).exists()
    try:
        if reset:
            console.print(f"--reset: deleting the demo in {data_dir} and preparing it afresh.")
            _remove_demo(data_dir)
            accounts = prepare_demo(console, data_dir, now=datetime.now(UTC))
        elif marker is not None and marker.get("state") == "ready":
            prepared = str(marker.get("prepared_at", "?"))[:10]
            console.print(
                f"Found the demo prepared on {prepared} in {data_dir}: reusing it as it is "
                "(coupe demo --reset rebuilds it)."
            )
            accounts = [DemoAccount(**fields) for fields in marker.get("accounts", [])]
        elif marker is None and has_database:
            raise _fail(
                err,
                f"{data_dir} holds a database that is not a prepared demo; left as it is. "
                "Run `coupe demo --reset` to replace it with the demo, or set COUPE_DATA_DIR "
                "to another folder",
            )
        else:
            if marker is not None:
                console.print(f"Found a demo left half-prepared in {data_dir}: preparing it again.")
                _remove_demo(data_dir)
            accounts = prepare_demo(console, data_dir, now=datetime.now(UTC))
    except (DemoSetupError, TilingError, OSError) as exc:
        raise _fail(err, f"the demo could not be prepared: {exc}") from exc
    except KeyboardInterrupt:
        err.print("interrupted; run `coupe demo` again to prepare the demo", soft_wrap=True)
        raise typer.Exit(code=130) from None

    console.rule("Coupe demo")
    _print_how_to_use(console, accounts, host, port)
    console.print(f"Data: {data_dir}  (COUPE_DATA_DIR={data_dir} coupe serve serves it too)")
    if no_serve:
        console.print("Prepared; not serving (--no-serve): `coupe demo` starts the platform.")
        return
    _serve(console, data_dir, host, port)


def _serve(console: Console, data_dir: Path, host: str, port: int) -> None:
    """Serve the demo in this process until Ctrl-C."""
    import uvicorn

    from services.app import create_app, prepare_storage

    settings = _demo_settings(data_dir)
    prepare_storage(settings)
    settings.resolved_secret_key()
    console.print("Ctrl-C stops the platform.")
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        # uvicorn stops gracefully on SIGINT, then raises the signal again for the caller.
        pass
    console.print("The platform stopped.")
