"""A case's history: every assignment, move (with its reason), consult, report version,
sign-out and addendum, in the order they happened.

Read from the records the operations leave behind: assignments (never deleted), the lab
managers' moves (:class:`~worklist.models.CaseMove`, with their reasons), the report's
versions and addenda, and for a release its reason from the audit record of the release.
Read only: the caller audits the viewing (it is an access to the case).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.enums import AssignmentKind, AuditOutcome
from worklist.errors import NotFoundError
from worklist.models import (
    Assignment,
    AuditEvent,
    Case,
    CaseMove,
    Pathologist,
    Report,
    ReportAddendum,
    ReportVersion,
)


class HistoryKind(StrEnum):
    """What happened to the case."""

    RECEIVED = "received"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    RELEASED = "released"
    CONSULT_REQUESTED = "consult_requested"
    CONSULT_ANSWERED = "consult_answered"
    REPORT_SAVED = "report_saved"
    SIGNED_OUT = "signed_out"
    ADDENDUM = "addendum"


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One moment of a case's history; the fields that do not apply are None."""

    at: datetime
    kind: HistoryKind
    by: str | None = None
    """Who did it: an account's user id, or a pathologist's code."""
    pathologist_code: str | None = None
    """Whom it concerns: the new holder, the consultant, the report's author."""
    from_pathologist_code: str | None = None
    assignment_kind: AssignmentKind | None = None
    rule: str | None = None
    reason: str | None = None
    text: str | None = None
    """A consult's question or answer (free text, to be shown as text)."""
    report_version: int | None = None
    outside_subspecialty: bool = False


def case_history(session: Session, case_id: int) -> list[HistoryEvent]:
    """The history of case ``case_id``, oldest first; :class:`NotFoundError` if none."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("case", case_id)
    codes = _Codes(session)
    events = [HistoryEvent(at=case.received_at, kind=HistoryKind.RECEIVED)]
    events.extend(_assignment_events(session, case_id, codes))
    events.extend(_report_events(session, case_id, codes))
    order = {kind: index for index, kind in enumerate(HistoryKind)}
    return sorted(events, key=lambda event: (event.at, order[event.kind]))


class _Codes:
    """Pathologist codes by id, read once per history."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._codes: dict[int, str] = {}

    def __call__(self, pathologist_id: int | None) -> str | None:
        if pathologist_id is None:
            return None
        if pathologist_id not in self._codes:
            pathologist = self._session.get(Pathologist, pathologist_id)
            self._codes[pathologist_id] = pathologist.code if pathologist else "?"
        return self._codes[pathologist_id]


def _assignment_events(session: Session, case_id: int, codes: _Codes) -> Iterator[HistoryEvent]:
    assignments = session.scalars(
        select(Assignment)
        .where(Assignment.case_id == case_id)
        .order_by(Assignment.assigned_at, Assignment.id)
    ).all()
    moves = {
        move.assignment_id: move
        for move in session.scalars(select(CaseMove).where(CaseMove.case_id == case_id))
    }
    releases = _release_reasons(session, case_id)
    for assignment in assignments:
        code = codes(assignment.pathologist_id)
        if assignment.kind is AssignmentKind.PRIMARY:
            yield _primary_event(assignment, code, moves.get(assignment.id), codes)
            if assignment.end_reason == "released" and assignment.ended_at is not None:
                yield HistoryEvent(
                    at=assignment.ended_at,
                    kind=HistoryKind.RELEASED,
                    pathologist_code=code,
                    reason=releases.get(assignment.ended_at) or None,
                )
            continue
        yield HistoryEvent(
            at=assignment.assigned_at,
            kind=HistoryKind.CONSULT_REQUESTED,
            by=codes(assignment.requested_by_id) or assignment.assigned_by,
            pathologist_code=code,
            assignment_kind=assignment.kind,
            rule=assignment.rule,
            text=assignment.question,
        )
        if assignment.answered_at is not None:
            yield HistoryEvent(
                at=assignment.answered_at,
                kind=HistoryKind.CONSULT_ANSWERED,
                by=code,
                pathologist_code=code,
                assignment_kind=assignment.kind,
                text=assignment.answer,
            )


def _primary_event(
    assignment: Assignment, code: str | None, move: CaseMove | None, codes: _Codes
) -> HistoryEvent:
    """A primary read given: by a lab manager's move (with its reason) or by a rule."""
    if move is None:
        return HistoryEvent(
            at=assignment.assigned_at,
            kind=HistoryKind.ASSIGNED,
            by=assignment.assigned_by,
            pathologist_code=code,
            assignment_kind=assignment.kind,
            rule=assignment.rule,
        )
    moved = move.from_pathologist_id is not None
    return HistoryEvent(
        at=move.moved_at,
        kind=HistoryKind.REASSIGNED if moved else HistoryKind.ASSIGNED,
        by=move.moved_by,
        pathologist_code=code,
        from_pathologist_code=codes(move.from_pathologist_id),
        assignment_kind=assignment.kind,
        rule=assignment.rule,
        reason=move.reason or None,
        outside_subspecialty=move.outside_subspecialty,
    )


def _release_reasons(session: Session, case_id: int) -> dict[datetime, str]:
    """The reason of each release of the case, by its moment (the assignment's ended_at)."""
    rows = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.detail).where(
            AuditEvent.case_id == case_id,
            AuditEvent.event_type == "case.release",
            AuditEvent.outcome == AuditOutcome.SUCCESS,
        )
    ).all()
    return {moment: str(_detail(detail).get("reason") or "") for moment, detail in rows}


def _detail(raw: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _report_events(session: Session, case_id: int, codes: _Codes) -> Iterable[HistoryEvent]:
    report = session.scalar(select(Report).where(Report.case_id == case_id))
    if report is None:
        return []
    found = [
        HistoryEvent(
            at=version.saved_at,
            kind=HistoryKind.REPORT_SAVED,
            by=codes(version.saved_by_id),
            pathologist_code=codes(version.saved_by_id),
            report_version=version.version,
        )
        for version in session.scalars(
            select(ReportVersion).where(ReportVersion.report_id == report.id)
        )
    ]
    if report.signed_at is not None:
        signer = codes(report.signed_by_id)
        found.append(
            HistoryEvent(
                at=report.signed_at,
                kind=HistoryKind.SIGNED_OUT,
                by=signer,
                pathologist_code=signer,
                report_version=report.version,
            )
        )
    found.extend(
        HistoryEvent(
            at=addendum.signed_at,
            kind=HistoryKind.ADDENDUM,
            by=codes(addendum.signed_by_id),
            pathologist_code=codes(addendum.signed_by_id),
        )
        for addendum in session.scalars(
            select(ReportAddendum).where(ReportAddendum.report_id == report.id)
        )
    )
    return found
