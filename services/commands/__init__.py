"""CLI command groups; each module exposes ``register(app)``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

import typer

MODULES = (
    "slides",
    "db",
    "assign",
    "serve",
    "audit",
    "demo",
    "admin",
    "region",
    "imports",
    "jobs",
    "report",
    "simulate",
    "backup",
)
"""Every command module, in the order ``coupe --help`` lists their commands."""

COMMAND_MODULES: Mapping[str, str] = MappingProxyType(
    {
        "tile": "slides",
        "info": "slides",
        "slides": "slides",
        "db": "db",
        "assign": "assign",
        "serve": "serve",
        "audit": "audit",
        "demo": "demo",
        "admin": "admin",
        "region": "region",
        "import": "imports",
        "jobs": "jobs",
        "report": "report",
        "simulate": "simulate",
        "backup": "backup",
        "restore": "backup",
    }
)
"""Top-level command name -> the module that registers it (a test keeps this complete)."""


def register_all(app: typer.Typer, *, only: str | None = None) -> None:
    """Register every command group on ``app``; with ``only`` a known top-level command name,
    just the module that defines it.

    Modules are imported here, not at the top: the web stack, SQLAlchemy and
    dask.distributed take about a second to import, and ``coupe tile`` needs none of them.
    """
    chosen = COMMAND_MODULES.get(only) if only is not None else None
    modules = (chosen,) if chosen is not None else MODULES
    for module in modules:
        importlib.import_module(f"services.commands.{module}").register(app)
