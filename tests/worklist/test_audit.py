"""The audit hash chain finds records edited, deleted or reordered directly in SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.worklist.conftest import PATHOLOGIST, Factory
from worklist.audit import compute_hash, verify_audit_chain
from worklist.models import AuditEvent
from worklist.operations import claim_case, record_access
from worklist.seeding import ImportSummary


@pytest.fixture
def chained(engine: Engine, factory: Factory, region_ids: ImportSummary) -> Engine:
    """A log of a few events, with the append-only triggers dropped (a DBA gone rogue)."""
    case_ids = factory.cases(3)
    claim_case(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_ids[0],
        pathologist_id=region_ids.pathologist_ids["HMC-01"],
    )
    for case_id in case_ids:
        record_access(engine=engine, actor=PATHOLOGIST, case_id=case_id)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))
    return engine


def _verify(engine: Engine) -> tuple[bool, set[str], set[int]]:
    with Session(engine) as session:
        result = verify_audit_chain(session)
    return result.ok, {p.kind for p in result.problems}, {p.seq for p in result.problems}


def test_an_untouched_chain_verifies(chained: Engine) -> None:
    with Session(chained) as session:
        result = verify_audit_chain(session)
    assert result.ok and result.records_checked == 8  # import, 3 intakes, claim, 3 opens


def test_an_edited_record_is_found(chained: Engine) -> None:
    with chained.begin() as connection:
        connection.execute(text("UPDATE audit_event SET user_id = 'someone-else' WHERE seq = 5"))
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"edited"} and seqs == {5}


def test_an_edited_record_with_a_recomputed_hash_breaks_the_next_link(chained: Engine) -> None:
    with Session(chained) as session:
        event = session.get(AuditEvent, 4)
        assert event is not None
        event.user_id = "someone-else"
        forged = compute_hash(event)
        session.rollback()
    with chained.begin() as connection:
        connection.execute(
            text("UPDATE audit_event SET user_id = 'someone-else', record_hash = :h WHERE seq = 4"),
            {"h": forged},
        )
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"broken_link"} and seqs == {5}


def test_a_deleted_record_is_found(chained: Engine) -> None:
    with chained.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    ok, kinds, seqs = _verify(chained)
    assert not ok and {"gap", "broken_link"} <= kinds and seqs == {4}


def test_a_deleted_tail_is_found(chained: Engine) -> None:
    with chained.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq >= 7"))
    ok, kinds, _ = _verify(chained)
    assert not ok and kinds == {"truncated"}


def test_reordered_records_are_found(chained: Engine) -> None:
    with chained.begin() as connection:
        connection.execute(text("UPDATE audit_event SET seq = -1 WHERE seq = 2"))
        connection.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 6"))
        connection.execute(text("UPDATE audit_event SET seq = 6 WHERE seq = -1"))
    ok, kinds, seqs = _verify(chained)
    assert not ok and {"edited", "broken_link"} <= kinds and {2, 6} <= seqs
