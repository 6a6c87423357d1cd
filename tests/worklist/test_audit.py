"""The audit log: appended without a lock, sealed into one hash chain, and every record edited,
deleted or reordered directly in SQL found, before sealing or after."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.worklist.conftest import BACKENDS, NOW, PATHOLOGIST, Factory
from worklist.actor import Actor
from worklist.audit import (
    GENESIS_HASH,
    AuditSealer,
    compute_content_hash,
    compute_hash,
    record_event,
    seal_pending,
    verify_audit_chain,
)
from worklist.db import make_engine, run_in_transaction
from worklist.enums import AuditAction
from worklist.migrate import upgrade_engine
from worklist.models import AuditChainHead, AuditEvent
from worklist.operations import claim_case, record_access
from worklist.seeding import ImportSummary

RECORDS = 8  # import, 3 intakes, claim, 3 opens


def _write_log(engine: Engine, factory: Factory, region_ids: ImportSummary) -> None:
    case_ids = factory.cases(3)
    claim_case(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_ids[0],
        pathologist_id=region_ids.pathologist_ids["HMC-01"],
    )
    for case_id in case_ids:
        record_access(engine=engine, actor=PATHOLOGIST, case_id=case_id)


def _drop_triggers(engine: Engine) -> None:
    """A DBA gone rogue: the append-only triggers dropped."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))


@pytest.fixture
def written(engine: Engine, factory: Factory, region_ids: ImportSummary) -> Engine:
    """A log of a few events, none sealed yet, with the triggers dropped."""
    _write_log(engine, factory, region_ids)
    _drop_triggers(engine)
    return engine


@pytest.fixture
def chained(written: Engine) -> Engine:
    """The same log, sealed."""
    assert seal_pending(written) == RECORDS
    return written


def _verify(engine: Engine) -> tuple[bool, set[str], set[int]]:
    with Session(engine) as session:
        result = verify_audit_chain(session)
    return result.ok, {p.kind for p in result.problems}, {p.seq for p in result.problems}


def _execute(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def _chain(engine: Engine) -> list[tuple[int, int | None]]:
    with Session(engine) as session:
        rows = session.execute(select(AuditEvent.seq, AuditEvent.chain_seq).order_by("seq"))
        return [(seq, chain_seq) for seq, chain_seq in rows]


def test_records_are_written_unsealed_and_sealed_in_order(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    _write_log(engine, factory, region_ids)
    assert all(chain_seq is None for _, chain_seq in _chain(engine))
    with Session(engine) as session:
        before = verify_audit_chain(session)
    assert before.ok and before.records_checked == RECORDS and before.unsealed == RECORDS

    assert seal_pending(engine) == RECORDS
    assert seal_pending(engine) == 0
    assert _chain(engine) == [(seq, seq) for seq in range(1, RECORDS + 1)]
    with Session(engine) as session:
        after = verify_audit_chain(session, unsealed_before=datetime.now(UTC))
        head = session.get(AuditChainHead, 1)
        first = session.scalars(select(AuditEvent).where(AuditEvent.chain_seq == 1)).one()
    assert after.ok and after.records_checked == RECORDS and after.unsealed == 0
    assert head is not None and head.last_seq == RECORDS
    assert first.prev_hash == GENESIS_HASH


def test_seal_pending_works_in_batches(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    _write_log(engine, factory, region_ids)
    assert seal_pending(engine, batch_size=3) == RECORDS
    with Session(engine) as session:
        assert verify_audit_chain(session).ok


def test_records_left_unsealed_too_long_are_reported(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    _write_log(engine, factory, region_ids)
    with Session(engine) as session:
        result = verify_audit_chain(session, unsealed_before=datetime.now(UTC))
    assert {p.kind for p in result.problems} == {"unsealed"}
    assert len(result.problems) == RECORDS


def test_an_untouched_chain_verifies(chained: Engine) -> None:
    with Session(chained) as session:
        result = verify_audit_chain(session)
    assert result.ok and result.records_checked == RECORDS


def test_an_edited_record_is_found(chained: Engine) -> None:
    _execute(chained, "UPDATE audit_event SET user_id = 'someone-else' WHERE seq = 5")
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"edited"} and seqs == {5}


def _forge(engine: Engine, seq: int, user_id: str) -> tuple[str, str | None]:
    """(content hash, record hash) that record ``seq`` would have with ``user_id``."""
    with Session(engine) as session:
        event = session.get(AuditEvent, seq)
        assert event is not None
        event.user_id = user_id
        forged = (
            compute_content_hash(event),
            (compute_hash(event) if event.chain_seq is not None else None),
        )
        session.rollback()
    return forged


def test_an_edited_record_with_recomputed_hashes_breaks_the_next_link(chained: Engine) -> None:
    content_hash, record_hash = _forge(chained, 4, "someone-else")
    _execute(
        chained,
        "UPDATE audit_event SET user_id = 'someone-else', content_hash = :c, record_hash = :r "
        "WHERE seq = 4",
        c=content_hash,
        r=record_hash,
    )
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"broken_link"} and seqs == {5}


def test_a_record_edited_before_sealing_is_found_and_stays_found(written: Engine) -> None:
    _execute(written, "UPDATE audit_event SET detail = '{}' WHERE seq = 5")
    ok, kinds, seqs = _verify(written)
    assert not ok and kinds == {"edited"} and seqs == {5}
    seal_pending(written)  # the sealer chains what it finds, and the edit still shows
    ok, kinds, seqs = _verify(written)
    assert not ok and kinds == {"edited"} and seqs == {5}


def test_a_deleted_record_is_found(chained: Engine) -> None:
    _execute(chained, "DELETE FROM audit_event WHERE seq = 3")
    ok, kinds, seqs = _verify(chained)
    assert not ok and {"gap", "broken_link"} <= kinds and seqs == {4}


def test_a_deleted_tail_is_found(chained: Engine) -> None:
    _execute(chained, "DELETE FROM audit_event WHERE seq >= 7")
    ok, kinds, _ = _verify(chained)
    assert not ok and kinds == {"truncated"}


def test_records_moved_in_the_chain_are_found(chained: Engine) -> None:
    _execute(chained, "UPDATE audit_event SET chain_seq = -1 WHERE seq = 2")
    _execute(chained, "UPDATE audit_event SET chain_seq = 2 WHERE seq = 6")
    _execute(chained, "UPDATE audit_event SET chain_seq = 6 WHERE seq = 2")
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"broken_link"} and {2, 6} <= seqs


def test_renumbered_records_are_found(chained: Engine) -> None:
    _execute(chained, "UPDATE audit_event SET seq = -1 WHERE seq = 2")
    _execute(chained, "UPDATE audit_event SET seq = 2 WHERE seq = 6")
    _execute(chained, "UPDATE audit_event SET seq = 6 WHERE seq = -1")
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"edited"} and seqs == {2, 6}


def test_a_record_taken_out_of_the_chain_is_found(chained: Engine) -> None:
    _execute(chained, "UPDATE audit_event SET chain_seq = NULL WHERE seq = 8")
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"truncated", "broken_link"} and 8 in seqs


def test_the_database_allows_sealing_and_nothing_else(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    _write_log(engine, factory, region_ids)
    # Unsealed: content cannot change, nor can chain columns be half filled.
    for statement in (
        "UPDATE audit_event SET detail = '{}' WHERE seq = 2",
        "UPDATE audit_event SET chain_seq = 99 WHERE seq = 2",
        "UPDATE audit_event SET chain_seq = 99, prev_hash = 'x', record_hash = 'y', "
        "user_id = 'x' WHERE seq = 2",
        "DELETE FROM audit_event WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            _execute(engine, statement)
    seal_pending(engine)
    # Sealed: not even the chain columns.
    for statement in (
        "UPDATE audit_event SET chain_seq = 99 WHERE seq = 2",
        "UPDATE audit_event SET chain_seq = NULL, prev_hash = NULL, record_hash = NULL "
        "WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            _execute(engine, statement)
    with Session(engine) as session:
        assert verify_audit_chain(session).ok


def _note(session: Session, what: str) -> int:
    return record_event(
        session,
        actor=PATHOLOGIST,
        event_type="test.note",
        action=AuditAction.READ,
        detail={"what": what},
    )


@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
def test_a_record_that_commits_after_a_later_one_is_sealed_not_skipped(
    engine: Engine, region_ids: ImportSummary
) -> None:
    """PostgreSQL hands out seq before commit: seq n may commit after seq n + 1."""

    seal_pending(engine)
    with Session(engine) as slow:
        early = _note(slow, "early, slow to commit")
        late = run_in_transaction(engine, lambda session: _note(session, "late, quick"))
        assert late > early
        assert seal_pending(engine) == 1  # only what is committed
        slow.commit()
    assert seal_pending(engine) == 1
    with Session(engine) as session:
        result = verify_audit_chain(session)
        positions = dict(
            session.execute(
                select(AuditEvent.seq, AuditEvent.chain_seq).where(
                    AuditEvent.seq.in_([early, late])
                )
            ).all()
        )
    assert result.ok and result.unsealed == 0
    assert positions[early] == positions[late] + 1  # chained in commit order


def test_the_sealer_thread_chains_records_soon_and_everything_on_close(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    sealer = AuditSealer(engine, interval_s=0.05)
    sealer.start()
    try:
        factory.cases(2)
        deadline = time.monotonic() + 10
        while _unsealed(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _unsealed(engine) == 0
    finally:
        sealer.close()
    record_access(engine=engine, actor=PATHOLOGIST, case_id=1)  # written after the thread ended
    assert _unsealed(engine) == 1
    sealer.close()  # closing again seals what came since
    assert _unsealed(engine) == 0


def _unsealed(engine: Engine) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(AuditEvent.chain_seq.is_(None))
        return session.scalar(query) or 0


def _legacy_record(seq: int, prev_hash: str) -> AuditEvent:
    """A record as written before revision 0005 (hash over content, seq and prev_hash)."""
    event = AuditEvent(
        seq=seq,
        event_id=str(uuid.uuid4()),
        occurred_at=NOW + timedelta(minutes=seq),
        event_type="case.open",
        action=AuditAction.READ,
        outcome="success",
        user_id="patholoog",
        role="pathologist",
        on_behalf_of=None,
        purpose_of_use="treatment",
        site="HMC",
        patient_pseudonym=f"PSN-{seq}",
        case_id=seq,
        accession_number=None,
        slide_id=None,
        break_glass=False,
        detail="{}",
        prev_hash=prev_hash,
    )
    event.record_hash = compute_hash(event)
    return event


def test_a_chain_written_before_sealing_existed_stays_valid(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_engine(engine, "0004")
        legacy: list[AuditEvent] = []
        for seq in range(1, 6):
            legacy.append(_legacy_record(seq, legacy[-1].record_hash if legacy else GENESIS_HASH))
        columns = [
            c for c in AuditEvent.__table__.columns.keys() if c not in {"content_hash", "chain_seq"}
        ]
        with engine.begin() as connection:
            connection.execute(
                AuditEvent.__table__.insert(),
                [{c: getattr(e, c) for c in columns} for e in legacy],
            )
            connection.execute(
                text("UPDATE audit_chain_head SET last_seq = 5, last_hash = :h"),
                {"h": legacy[-1].record_hash},
            )
        upgrade_engine(engine)
        with Session(engine) as session:
            assert verify_audit_chain(session).ok
        run_in_transaction(engine, lambda session: _note(session, "after the upgrade"))
        assert seal_pending(engine) == 1
        with Session(engine) as session:
            result = verify_audit_chain(session)
            new = session.scalars(select(AuditEvent).where(AuditEvent.seq == 6)).one()
        assert result.ok and result.records_checked == 6
        assert new.chain_seq == 6 and new.prev_hash == legacy[-1].record_hash
        _drop_triggers(engine)
        _execute(engine, "UPDATE audit_event SET user_id = 'someone-else' WHERE seq = 2")
        assert _verify(engine)[1:] == ({"edited"}, {2})
    finally:
        engine.dispose()


def test_actor_fields_are_covered(chained: Engine) -> None:
    """Every column but the chain's own is under a hash: editing any one of them shows."""
    system = Actor.system()
    _execute(chained, "UPDATE audit_event SET role = :r WHERE seq = 3", r=system.role.value)
    _execute(chained, "UPDATE audit_event SET break_glass = :b WHERE seq = 6", b=True)
    ok, kinds, seqs = _verify(chained)
    assert not ok and kinds == {"edited"} and seqs == {3, 6}
