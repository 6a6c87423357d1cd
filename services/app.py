"""The FastAPI application factory: ``create_app(settings)``; nothing is built at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.errors import install_error_handlers
from services.routers import auth, users
from services.security import TokenSigner
from services.settings import Settings
from services.state import AppState
from worklist.db import make_engine
from worklist.migrate import upgrade_engine


def start_state(settings: Settings) -> AppState:
    """Prepare data folders, migrate the database and start background workers."""
    for folder in (settings.data_dir, settings.pyramid_dir, settings.slide_dir):
        folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade_engine(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        tokens=TokenSigner(settings.resolved_secret_key(), settings.token_ttl_minutes * 60),
    )
    # Background components register their stop function in state.closers.
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
    )
    install_error_handlers(app)
    for router in (auth.router, users.router):
        app.include_router(router)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: the app answers."""
        return {"status": "ok"}

    return app
