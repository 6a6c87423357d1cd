"""What a running app holds: settings, the database engine, sessions, tiles, workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from services.importer import FolderImporter
from services.jobs import JobRunner
from services.metrics import CoupeMetrics
from services.sessions import SessionService
from services.settings import Settings
from services.tiles import TileService

if TYPE_CHECKING:  # services.access reaches this module through services.deps
    from services.access import ViewLog
    from services.slide_gate import SlideGate


__all__ = ["AppState"]


@dataclass
class AppState:
    """Built by ``create_app``'s lifespan; reached by routes through ``deps``."""

    settings: Settings
    engine: Engine
    sessions: SessionService
    tiles: TileService
    jobs: JobRunner
    importer: FolderImporter
    views: ViewLog  # which cases and slides each session opened: audited once
    slide_gate: SlideGate  # the per-tile check
    metrics: CoupeMetrics  # what /metrics shows; see services.metrics
    schema_heads: frozenset[str]  # the migration heads this code carries, for /ready
    # This process took data_dir/background.lock and runs the job runner and folder import.
    holds_background_lock: bool = False
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop background workers (last started, first stopped) and the engine."""
        while self.closers:
            self.closers.pop()()
        self.engine.dispose()
