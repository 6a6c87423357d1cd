"""The synthetic history (:mod:`worklist.synthetic_history`) written into the database.

:func:`insert_history` writes it with bulk inserts (no slides: a signed-out history case is
never on a worklist) and one audit record, as seeding a region does; :func:`seed_history`
generates and inserts the demo's in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

from worklist.accession import format_accession
from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.engine.proposals import Rule
from worklist.enums import AssignmentKind, AuditAction, CaseStatus
from worklist.errors import ValidationError
from worklist.lifecycle import SIGNED_OUT_END_REASON
from worklist.models import Assignment, Case, CaseWait, Department, Pathologist
from worklist.models.report import Report, ReportVersion
from worklist.operations.intake import _reserve_accessions
from worklist.region import Region
from worklist.synthetic_history import HistoryCase, generate_history

__all__ = ["HISTORY_EVENT", "InsertedHistory", "insert_history", "seed_history"]

HISTORY_EVENT = "history.seed"
REPORT_TEXT = "Synthetic history case (demo data): no report text."


@dataclass(frozen=True, slots=True)
class InsertedHistory:
    """What :func:`insert_history` wrote."""

    cases: int
    assignments: int
    waits: int


def insert_history(
    session: Session, cases: Sequence[HistoryCase], *, actor: Actor
) -> InsertedHistory:
    """Write ``cases`` (their assignments and waits) with bulk inserts, and one audit record.

    Accession numbers come from the departments' counters, so they never collide with the
    cases taken in before or after. The region must already be in the database.
    """
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    people = dict(session.execute(select(Pathologist.code, Pathologist.id)).all())
    unknown = sorted({c.department for c in cases} - departments.keys()) + sorted(
        {c.pathologist_code for c in cases} - people.keys()
    )
    if unknown:
        raise ValidationError(
            f"import the region first: {', '.join(unknown[:5])} not in the database"
        )
    accessions = _accession_numbers(session, cases)
    case_table = cast(Table, Case.__table__)
    case_rows = [
        {
            "accession_number": accession,
            "case_type": case.case_type,
            "department_id": departments[case.department],
            "patient_pseudonym": case.patient_pseudonym,
            "tumour_group": case.tumour_group,
            "category": case.category,
            "priority": case.priority,
            "priority_rank": case.priority.rank,
            "second_read_trigger": case.second_read_trigger,
            "received_at": case.received_at,
            "due_at": case.due_at,
            "status": CaseStatus.SIGNED_OUT,
            "signed_out_at": case.signed_out_at,
            "updated_at": case.signed_out_at,
            "version": 1,
        }
        for case, accession in zip(cases, accessions, strict=True)
    ]
    if case_rows:
        # Plain executemany: with RETURNING, SQLite would insert one row per statement.
        session.execute(insert(case_table), case_rows)
    by_accession = _ids_by(session, Case.accession_number, Case.id, accessions)
    ids = [by_accession[accession] for accession in accessions]
    assignment_rows = []
    wait_rows: list[dict[str, object]] = []
    for case_id, case in zip(ids, cases, strict=True):
        assignment_rows.append(
            _assignment_row(case_id, people[case.pathologist_code], case, actor, primary=True)
        )
        if case.second_reader_code is not None:
            assignment_rows.append(
                _assignment_row(
                    case_id, people[case.second_reader_code], case, actor, primary=False
                )
            )
        wait_rows.extend(
            {
                "case_id": case_id,
                "reason": wait.reason,
                "started_at": wait.started_at,
                "ended_at": wait.ended_at,
                "recorded_by": actor.user_id,
            }
            for wait in case.waits
        )
    if assignment_rows:
        session.execute(insert(cast(Table, Assignment.__table__)), assignment_rows)
    if wait_rows:
        session.execute(insert(cast(Table, CaseWait.__table__)), wait_rows)
    _insert_reports(session, ids, cases, people)
    inserted = InsertedHistory(len(case_rows), len(assignment_rows), len(wait_rows))
    record_event(
        session,
        actor=actor,
        event_type=HISTORY_EVENT,
        action=AuditAction.CREATE,
        detail={
            "cases": inserted.cases,
            "assignments": inserted.assignments,
            "waits": inserted.waits,
            "received_from": min(c.received_at for c in cases).date().isoformat()
            if cases
            else None,
            "received_to": max(c.received_at for c in cases).date().isoformat() if cases else None,
        },
    )
    return inserted


def _accession_numbers(session: Session, cases: Sequence[HistoryCase]) -> list[str]:
    """Numbers from the counters, in arrival order per site, type and year of receipt."""
    keys = [(c.department, c.case_type, c.received_at.year) for c in cases]
    next_seq = {
        key: _reserve_accessions(session, *key, count=count)
        for key, count in sorted(Counter(keys).items())
    }
    numbers = []
    for key in keys:
        numbers.append(format_accession(*key, next_seq[key]))
        next_seq[key] += 1
    return numbers


def _insert_reports(
    session: Session, case_ids: Sequence[int], cases: Sequence[HistoryCase], people: dict[str, int]
) -> None:
    """Each case's report, signed at its sign-out by its primary pathologist (one version)."""
    if not cases:
        return
    session.execute(
        insert(cast(Table, Report.__table__)),
        [
            {
                "case_id": case_id,
                "version": 1,
                "signed_at": case.signed_out_at,
                "signed_by_id": people[case.pathologist_code],
            }
            for case_id, case in zip(case_ids, cases, strict=True)
        ],
    )
    report_ids = _ids_by(session, Report.case_id, Report.id, case_ids)
    session.execute(
        insert(cast(Table, ReportVersion.__table__)),
        [
            {
                "report_id": report_ids[case_id],
                "version": 1,
                "macroscopy": "",
                "microscopy": "",
                "conclusion": REPORT_TEXT,
                "diagnosis_codes": [],
                "saved_at": case.signed_out_at - timedelta(minutes=5),
                "saved_by_id": people[case.pathologist_code],
            }
            for case_id, case in zip(case_ids, cases, strict=True)
        ],
    )


def _ids_by(
    session: Session, key: Any, id_column: Any, keys: Sequence[Any], chunk: int = 5000
) -> dict[Any, int]:
    """``key`` -> ``id_column`` of the rows whose ``key`` is one of ``keys``."""
    found: dict[Any, int] = {}
    for start in range(0, len(keys), chunk):
        rows = session.execute(select(key, id_column).where(key.in_(keys[start : start + chunk])))
        found.update(rows.all())
    return found


def _assignment_row(
    case_id: int, pathologist_id: int, case: HistoryCase, actor: Actor, *, primary: bool
) -> dict[str, object]:
    if primary:
        kind, rule, assigned_at = AssignmentKind.PRIMARY, case.rule, case.assigned_at
        ended_at, end_reason = case.signed_out_at, SIGNED_OUT_END_REASON
    else:
        # The mandatory second read: asked on the day of sign-out, done before it.
        kind, rule, end_reason = (
            AssignmentKind.SECOND_OPINION,
            Rule.SECOND_READ_TRIGGER,
            "completed",
        )
        ended_at = case.signed_out_at - timedelta(minutes=10)
        assigned_at = max(case.assigned_at, ended_at - timedelta(hours=6))
    return {
        "case_id": case_id,
        "pathologist_id": pathologist_id,
        "kind": kind,
        "active": False,
        "assigned_at": assigned_at,
        "assigned_by": actor.user_id,
        "rule": str(rule),
        "ended_at": ended_at,
        "end_reason": end_reason,
    }


def seed_history(
    engine: Engine,
    region: Region,
    *,
    today: date,
    end: date,
    seed: int,
    actor: Actor,
    days: int = 365,
) -> InsertedHistory:
    """Generate the ``days`` before ``end`` and insert them in one transaction (the demo's)."""
    history = generate_history(region, today=today, end=end, days=days, seed=seed)
    return run_in_transaction(engine, lambda session: insert_history(session, history, actor=actor))
