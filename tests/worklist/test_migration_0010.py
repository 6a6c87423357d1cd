"""Migration 0010: a case's priority rank as a column, filled from its priority, and the index
of the claim order."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, select, text

from tests.worklist.conftest import Factory
from worklist.db import read_session
from worklist.enums import Priority
from worklist.migrate import alembic_config, upgrade_engine
from worklist.models import Case


def test_the_rank_is_filled_from_the_priority_and_the_claim_order_is_indexed(
    engine: Engine, factory: Factory
) -> None:
    for priority in Priority:
        factory.cases(2, priority=priority)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0009")
        columns = {c["name"] for c in inspect(connection).get_columns("pathology_case")}
        assert "priority_rank" not in columns
        connection.execute(text("UPDATE pathology_case SET priority = 'routine' WHERE id = 1"))
    upgrade_engine(engine)
    with read_session(engine) as session:
        ranks = dict(session.execute(select(Case.id, Case.priority_rank)).all())
        priorities = dict(session.execute(select(Case.id, Case.priority)).all())
    assert ranks == {case_id: Priority(p).rank for case_id, p in priorities.items()}
    assert ranks[1] == Priority.ROUTINE.rank  # filled from what the row said, not the model
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("pathology_case")}
    assert indexes["ix_case_claim_order"] == ["status", "priority_rank", "due_at", "id"]


def test_setting_a_priority_keeps_the_rank() -> None:
    case = Case(priority=Priority.URGENT)
    assert case.priority_rank == Priority.URGENT.rank
    case.priority = Priority.FROZEN
    assert case.priority_rank == 0
