"""What a running app holds: settings, the database engine, the token signer, workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from services.security import TokenSigner
from services.settings import Settings


@dataclass
class AppState:
    """Built by ``create_app``'s lifespan; reached by routes through ``deps``."""

    settings: Settings
    engine: Engine
    tokens: TokenSigner
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop background workers (last started, first stopped) and the engine."""
        while self.closers:
            self.closers.pop()()
        self.engine.dispose()
