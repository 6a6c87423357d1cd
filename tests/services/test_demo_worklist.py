"""The worklist step of ``coupe demo``: fast, complete, and the same on every run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.commands.demo_worklist import DEMO_DATABASE, run_worklist_demo
from worklist.db import make_engine
from worklist.models import Assignment, Case


def _run(data_dir: Path) -> str:
    out = io.StringIO()
    run_worklist_demo(Console(file=out, width=200, color_system=None), data_dir)
    return out.getvalue()


def _counts(data_dir: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{data_dir / DEMO_DATABASE}", pool_size=1)
    try:
        with Session(engine) as session:
            cases = session.scalar(select(func.count()).select_from(Case)) or 0
            assignments = session.scalar(select(func.count()).select_from(Assignment)) or 0
    finally:
        engine.dispose()
    return cases, assignments


@pytest.mark.slow
def test_the_worklist_demo_tells_the_whole_story_and_again(tmp_path: Path) -> None:
    first = _run(tmp_path)
    for department in ("HMC", "LUMC", "ALR", "GHZ", "HAGA", "RDGG"):
        assert department in first
    for heading in ("present", "tumour group", "gastro-intestinal", "Example reasons"):
        assert heading in first
    for placement in ("local", "regional", "escalation", "second read", "unplaced"):
        assert placement in first
    assert first.count("  - ") == 5, "five example reasons"
    assert "Audit chain: intact" in first
    cases, assignments = _counts(tmp_path)
    assert cases > 500 and assignments > 100

    # Running it again starts afresh: the same story, not twice the cases.
    assert _run(tmp_path) == first
    assert _counts(tmp_path) == (cases, assignments)
