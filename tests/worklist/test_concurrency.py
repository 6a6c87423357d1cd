"""Many pathologists racing: no double assignments, no lost updates, no "database is locked".

32 claimer threads, each with its own sessions, drain 1,000 unassigned cases with
``claim_next``; then the same threads fight over a handful of cases with ``claim_case`` and
``release_case``, and every case's version counter must equal one plus the number of
successful operations on it (a lost update would leave it lower). Audit writers racing with
sealers on engines of their own (as server processes are) still form one chain.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import PATHOLOGIST, Factory
from worklist.audit import AuditSealer, record_event, seal_pending, verify_audit_chain
from worklist.db import make_engine, run_in_transaction
from worklist.enums import AssignmentKind, AuditAction, CaseStatus
from worklist.errors import AlreadyAssignedError, NotAssignedError
from worklist.models import (
    Assignment,
    AuditChainHead,
    AuditEvent,
    Case,
    Pathologist,
    PathologistSubspecialty,
)
from worklist.operations import claim_case, claim_next, release_case
from worklist.seeding import ImportSummary

CLAIMERS = 32
CASES = 1_000


def _run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _add_claimers(engine: Engine, department_id: int, count: int) -> list[int]:
    with Session(engine) as session, session.begin():
        people = [
            Pathologist(
                code=f"RACE-{i:02d}",
                name=f"claimer {i}",
                department_id=department_id,
                fte=1.0,
                max_open_minutes=100_000,
                subspecialties=[PathologistSubspecialty(subspecialty="gastro-intestinal")],
            )
            for i in range(count)
        ]
        session.add_all(people)
        session.flush()
        return [p.id for p in people]


@pytest.mark.slow
def test_32_claimers_over_1000_cases(
    engine: Engine,
    factory: Factory,
    region_ids: ImportSummary,
    record_property: Callable[..., None],
) -> None:
    case_ids = set(factory.cases(CASES))
    claimers = _add_claimers(engine, region_ids.department_ids["HMC"], CLAIMERS)
    claimed: dict[int, list[int]] = {p: [] for p in claimers}

    def drain(index: int) -> None:
        pathologist = claimers[index]
        while (
            receipt := claim_next(engine=engine, actor=PATHOLOGIST, pathologist_id=pathologist)
        ) is not None:
            assert receipt.pathologist_id == pathologist
            claimed[pathologist].append(receipt.case.case_id)

    started = time.perf_counter()
    _run_threads(CLAIMERS, drain)
    elapsed_s = time.perf_counter() - started
    rate = CASES / elapsed_s
    record_property("claims_per_s", round(rate, 1))
    print(
        f"\n{engine.dialect.name}: {CASES} claims by {CLAIMERS} threads "
        f"in {elapsed_s:.2f} s = {rate:.0f} claims/s"
    )

    every_claim = [c for cases in claimed.values() for c in cases]
    assert len(every_claim) == CASES, "each case claimed exactly once"
    assert set(every_claim) == case_ids
    with Session(engine) as session:
        primaries = Counter(
            session.scalars(
                select(Assignment.case_id).where(
                    Assignment.active, Assignment.kind == AssignmentKind.PRIMARY
                )
            )
        )
        assert len(primaries) == CASES and max(primaries.values()) == 1, "zero double assignments"
        holders = dict(
            session.execute(
                select(Assignment.case_id, Assignment.pathologist_id).where(Assignment.active)
            ).all()
        )
        assert all(holders[c] == p for p, cases in claimed.items() for c in cases), (
            "zero lost updates"
        )
        versions = Counter(session.scalars(select(Case.version)))
        assert versions == {2: CASES}
        statuses = set(session.scalars(select(Case.status)))
        assert statuses == {CaseStatus.ASSIGNED}
    seal_pending(engine)
    with Session(engine) as session:
        chain = verify_audit_chain(session)
    assert chain.ok and chain.unsealed == 0 and chain.records_checked > CASES


@pytest.mark.slow
def test_racing_claims_and_releases_lose_no_update(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    hot_cases = factory.cases(4)
    claimers = _add_claimers(engine, region_ids.department_ids["HMC"], CLAIMERS)
    successes: Counter[int] = Counter()
    lock = threading.Lock()

    def fight(index: int) -> None:
        pathologist = claimers[index]
        for round_ in range(6):
            case_id = hot_cases[(index + round_) % len(hot_cases)]
            try:
                claim_case(
                    engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=pathologist
                )
            except AlreadyAssignedError:
                continue
            with lock:
                successes[case_id] += 1
            try:
                release_case(
                    engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=pathologist
                )
            except NotAssignedError:  # pragma: no cover - only the holder can release
                raise
            with lock:
                successes[case_id] += 1

    _run_threads(CLAIMERS, fight)
    with Session(engine) as session:
        for case_id in hot_cases:
            case = session.get(Case, case_id)
            assert case is not None
            assert case.version == 1 + successes[case_id], "every successful write is counted"
            assert case.status is CaseStatus.SCANNED
        history = session.scalar(select(func.count()).select_from(Assignment))
        assert history == sum(successes.values()) // 2
        assert session.scalar(select(func.count()).where(Assignment.active)) == 0


WRITERS = 8
RECORDS_PER_WRITER = 25
SEALER_PROCESSES = 3


def test_writers_and_sealers_in_several_processes_form_one_chain(
    engine: Engine,
    database_url: str,
    region_ids: ImportSummary,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each sealer has its own engine (its own connections), as each server process has; they
    take turns on the chain head, none failing for another's work."""
    engines = [make_engine(database_url, pool_size=2) for _ in range(SEALER_PROCESSES)]
    sealers = [AuditSealer(e, interval_s=0.005) for e in engines]

    def write(index: int) -> None:
        for number in range(RECORDS_PER_WRITER):
            run_in_transaction(
                engine,
                lambda session, n=number: record_event(
                    session,
                    actor=PATHOLOGIST,
                    event_type="test.note",
                    action=AuditAction.READ,
                    detail={"writer": index, "n": n},
                ),
            )

    try:
        for sealer in sealers:
            sealer.start()
        _run_threads(WRITERS, write)
    finally:
        for sealer in sealers:
            sealer.close()
        for sealing_engine in engines:
            sealing_engine.dispose()
    total = WRITERS * RECORDS_PER_WRITER + 1  # and the region import's record
    with Session(engine) as session:
        chain = verify_audit_chain(session)
        positions = sorted(session.scalars(select(AuditEvent.chain_seq)))
        head = session.get(AuditChainHead, 1)
    assert chain.ok and chain.records_checked == total and chain.unsealed == 0
    assert positions == list(range(1, total + 1))
    assert head is not None and head.last_seq == total
    assert not [r for r in caplog.records if r.name == "worklist.audit.sealing"]
