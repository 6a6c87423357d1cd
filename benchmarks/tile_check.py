"""Benchmark: the cost of the per-tile check, in microseconds per tile, in one process.

Every tile request checks the session its token names and the user's access to the slide's
case, in the database, with no memory of earlier answers (a session ended or a case
reassigned shows on the very next tile). This measures that check alone, as the tile route
runs it (:class:`services.slide_gate.SlideGate` on a pooled connection), for a pathologist of
the slide's department, one assigned from another department, and a lab manager, on a
temporary SQLite database (or ``--database-url``). ``serving.py`` measures it end to end.

Run ``python -m benchmarks.tile_check [--rounds 5] [--checks 2000]``; prints the median of the
rounds per kind of user, and the spread.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from services.app import start_state
from services.settings import Settings
from services.state import AppState
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.enums import Role
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    assign_case,
    intake_case,
)
from worklist.region import default_region
from worklist.seeding import import_region

_SECRET = "tile-check-benchmark-secret-key"


def _prepare(engine: Engine) -> int:
    """The region, one HMC case with one slide, and three accounts; the slide's id."""
    import_region(engine=engine, actor=Actor.system(), region=default_region())
    created = intake_case(
        engine=engine,
        actor=Actor.system(),
        case=CaseIntake(
            department="HMC",
            patient_pseudonym="PSN-TILE-CHECK",
            tumour_group="gastro-intestinal",
            category=2,
            specimens=[
                SpecimenIntake(
                    "A", blocks=[BlockIntake("A1", slides=[SlideIntake(file_path="x.svs")])]
                )
            ],
        ),
    )
    accounts = (
        ("department", Role.PATHOLOGIST, None, "HMC-01"),
        ("assigned", Role.PATHOLOGIST, None, "LUMC-01"),
        ("manager", Role.LAB_MANAGER, "HMC", None),
    )
    for username, role, department, pathologist in accounts:
        create_user(
            engine=engine,
            actor=Actor.system(),
            user=NewUser(
                username=username,
                display_name=username.title(),
                password_hash="not-used",
                role=role,
                department_code=department,
                pathologist_code=pathologist,
            ),
        )
    lumc = _pathologist_id(engine, "LUMC-01")
    assign_case(engine=engine, actor=Actor.system(), case_id=created.case_id, pathologist_id=lumc)
    return 1


def _pathologist_id(engine: Engine, code: str) -> int:
    from sqlalchemy import select

    from worklist.db import read_session
    from worklist.models import Pathologist

    with read_session(engine) as session:
        return session.scalars(select(Pathologist.id).where(Pathologist.code == code)).one()


def _checker(state: AppState, token: str, slide_id: int) -> Callable[[], None]:
    def check() -> None:
        with state.engine.connect() as connection:
            state.slide_gate.open(connection, token, slide_id)

    return check


def measure(rounds: int, checks: int, database_url: str | None) -> dict[str, list[float]]:
    """Microseconds per check, one figure per round, per kind of user."""
    with tempfile.TemporaryDirectory(prefix="coupe-tile-check-") as folder:
        settings = Settings(
            data_dir=Path(folder),
            secret_key=_SECRET,  # type: ignore[arg-type]
            run_background_workers=False,
            database_url=database_url,
        )
        state = start_state(settings)
        try:
            slide_id = _prepare(state.engine)
            results: dict[str, list[float]] = {}
            for user_id, kind in enumerate(("department", "assigned", "manager"), start=1):
                check = _checker(state, state.sessions.issue(user_id), slide_id)
                for _ in range(200):  # warm the pool and the statement cache
                    check()
                per_round = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    for _ in range(checks):
                        check()
                    per_round.append((time.perf_counter() - started) / checks * 1e6)
                results[kind] = per_round
            return results
        finally:
            state.close()


def main() -> None:
    """Run the benchmark and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    for kind, figures in measure(args.rounds, args.checks, args.database_url).items():
        print(
            f"{kind:>10}: {statistics.median(figures):7.0f} µs per tile check "
            f"(rounds {min(figures):.0f}-{max(figures):.0f})"
        )


if __name__ == "__main__":
    main()
