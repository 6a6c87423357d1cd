"""The FastAPI application factory: ``create_app(settings)``; nothing is built at import."""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import make_url
from starlette.middleware.trustedhost import TrustedHostMiddleware

from services.access import ViewLog
from services.docs import install_api_docs
from services.errors import install_error_handlers
from services.importer import FolderImporter
from services.jobs import JobRunner
from services.metrics import CoupeMetrics
from services.metrics_readiness import migration_heads
from services.middleware import RequestBodyMiddleware, SecurityHeadersMiddleware
from services.routers import (
    absences,
    audit,
    auth,
    benchmarks,
    capacity,
    cases,
    comments,
    consults,
    departments,
    desk,
    history,
    imports,
    jobs,
    operations,
    pathologists,
    reports,
    rounds,
    slides,
    uploads,
    users,
    waits,
    withdrawals,
    worklist,
)
from services.routers import annotations as slide_annotations
from services.sessions import SessionService
from services.settings import Settings
from services.slide_gate import SlideGate
from services.state import AppState
from services.storage import make_private_dir, make_private_file
from services.tiles import TileService
from services.web import install_web_app
from viewer.assets import viewer_assets
from worklist.audit import AuditSealer
from worklist.db import make_engine
from worklist.migrate import upgrade_engine


def prepare_storage(settings: Settings) -> None:
    """Make the data folders and bring the database schema to the newest revision.

    The folders and an SQLite database file are the service user's only (0700 and 0600):
    they hold patient data.
    """
    for folder in (
        settings.data_dir,
        settings.pyramid_dir,
        settings.slide_dir,
        settings.import_dir,
    ):
        make_private_dir(folder)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
    _make_sqlite_files_private(settings.resolved_database_url)


# The journal files SQLite keeps beside the database hold its pages too.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _make_sqlite_files_private(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    database = Path(url.database)
    for path in (database, *(database.with_name(database.name + s) for s in _SQLITE_SIDE_FILES)):
        if path.exists():
            make_private_file(path)


def _background_lock(settings: Settings) -> Callable[[], None] | None:
    """Take the data directory's background-work lock, or None if another process has it.

    With several server processes on one data directory exactly one runs the job runner and
    the folder importer; when it exits the lock is released and a restarted process takes it.
    """
    lock_file = (settings.data_dir.resolve() / "background.lock").open("a")
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        return None

    def release() -> None:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
        lock_file.close()

    return release


def _multiprocess_metrics_dir() -> Path | None:
    """The folder the server processes share their metrics in (set by ``coupe serve``)."""
    # prometheus-client's own variable: the library reads it when first imported, so it is
    # the one place this is configured, not a setting of ours.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return None
    make_private_dir(Path(folder))  # set by hand for one process, it may not exist yet
    return Path(folder)


def start_state(settings: Settings) -> AppState:
    """Prepare data folders, migrate the database and start background workers."""
    prepare_storage(settings)
    engine = make_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)
    runner = JobRunner(engine=engine, settings=settings)
    sessions = SessionService(engine=engine, settings=settings)
    views = ViewLog()
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        tiles=TileService(settings),
        views=views,
        slide_gate=SlideGate(engine=engine, sessions=sessions, views=views),
        jobs=runner,
        importer=FolderImporter(engine=engine, settings=settings, runner=runner),
        metrics=CoupeMetrics(
            engine=engine,
            sign_in_window=sessions.throttle.window,
            multiprocess_dir=_multiprocess_metrics_dir(),
        ),
        schema_heads=migration_heads(),
    )
    # Every process seals the audit log (the chain head's lock orders them); closed last of
    # the workers, it seals what they wrote.
    sealer = AuditSealer(engine)
    sealer.start()
    state.closers.append(sealer.close)
    state.closers.append(state.tiles.close)
    state.closers.append(state.sessions.close)
    # Jobs left running by a process that died are queued again (their builds resume).
    runner.recover()
    state.closers.append(runner.close)
    state.closers.append(state.importer.close)  # stopped first: it feeds the job runner
    if settings.run_background_workers:
        release = _background_lock(settings)
        if release is not None:
            state.closers.insert(0, release)  # released last, after the workers stopped
            state.holds_background_lock = True
            runner.start()
            state.importer.start()
    return state


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Coupe backoffice app on ``settings`` (default: from ``COUPE_*`` variables)."""
    resolved = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = start_state(resolved)
        app.state.coupe = state
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="Coupe",
        summary="Regional digital pathology backoffice: slides, tiles, cases, worklist.",
        version="0.1.0",
        lifespan=lifespan,
        # Served from the service's own files (no CDN): see services.docs.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # The last added runs first: the headers wrap every answer, the host check's refusals too;
    # an oversized or non-JSON body is refused before any route, parsing or authentication.
    app.add_middleware(
        RequestBodyMiddleware,
        max_json_bytes=resolved.max_json_bytes,
        streamed=[("POST", uploads.UPLOAD_PATH)],
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(resolved.trusted_hosts))
    app.add_middleware(SecurityHeadersMiddleware, behind_tls=resolved.behind_tls)
    for router in (
        # Before `pathologists` and `cases`: their literal paths (/pathologists/load) must win
        # over those routers' /{code} and /{case_id} patterns.
        desk.router,
        capacity.router,
        absences.router,
        history.router,
        rounds.router,
        imports.router,
        auth.router,
        users.router,
        slides.router,
        uploads.router,
        jobs.router,
        departments.router,
        pathologists.router,
        cases.router,
        worklist.router,
        consults.router,
        comments.router,
        waits.router,
        reports.router,
        slide_annotations.router,
        slide_annotations.rules_router,
        audit.router,
        withdrawals.router,
        operations.router,
        benchmarks.router,
    ):
        app.include_router(router)

    install_api_docs(app)
    install_web_app(app, viewer_assets())

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        """Liveness: the app answers (on the event loop: no worker thread needed)."""
        return {"status": "ok"}

    return app
