"""What a running app holds: settings, the database engine, the token signer, workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from services.importer import FolderImporter
from services.jobs import JobRunner
from services.security import TokenSigner
from services.settings import Settings
from services.tiles import TileService


@dataclass
class AppState:
    """Built by ``create_app``'s lifespan; reached by routes through ``deps``."""

    settings: Settings
    engine: Engine
    tokens: TokenSigner
    tiles: TileService
    jobs: JobRunner
    importer: FolderImporter
    closers: list[Callable[[], None]] = field(default_factory=list)
    max_upload_bytes: int = 20 * 1024**3

    def close(self) -> None:
        """Stop background workers (last started, first stopped) and the engine."""
        while self.closers:
            self.closers.pop()()
        self.engine.dispose()
