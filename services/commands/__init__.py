"""CLI command groups; each module exposes ``register(app)``."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Register every command group on ``app``."""
    # Imported here so that `coupe --help` stays fast and no module does work at import.
    from services.commands import (
        admin,
        assign,
        audit,
        db,
        demo,
        imports,
        jobs,
        region,
        report,
        serve,
        simulate,
        slides,
    )

    slides.register(app)
    db.register(app)
    assign.register(app)
    serve.register(app)
    audit.register(app)
    demo.register(app)
    admin.register(app)
    region.register(app)
    imports.register(app)
    jobs.register(app)
    report.register(app)
    simulate.register(app)
