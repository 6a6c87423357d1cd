"""The case lifecycle: which status may follow which, and why.

received -> scanned -> assigned -> in_review -> consult_pending -> in_review -> signed_out,
with the backward moves a department needs: a case can go back for rescanning, a pathologist
can release a case to the unassigned pool, and a lab manager's reassignment puts a case that
was in review back to "assigned" for its new pathologist. Signed out is final: the report is
frozen and only addenda follow (:mod:`worklist.operations.reports`).

Working on an assigned case is the start of its review: writing a draft of its report, asking
a consult or second opinion, or signing it out moves an "assigned" case to "in_review" first
(:func:`start_review_implicitly`), so nobody has to say "start review" before working.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from worklist.enums import CaseStatus
from worklist.errors import InvalidTransitionError, SignedOutError
from worklist.models import Case

S = CaseStatus

# target status -> what the move means, per current status.
TRANSITIONS: Mapping[CaseStatus, Mapping[CaseStatus, str]] = {
    S.RECEIVED: {S.SCANNED: "all slides scanned"},
    S.SCANNED: {
        S.ASSIGNED: "assigned or claimed",
        S.RECEIVED: "sent back for rescanning",
    },
    S.ASSIGNED: {
        S.IN_REVIEW: "review started",
        S.SCANNED: "released to the unassigned pool",
    },
    S.IN_REVIEW: {
        S.CONSULT_PENDING: "consult or second opinion requested",
        S.SIGNED_OUT: "signed out",
        S.SCANNED: "released to the unassigned pool",
        S.ASSIGNED: "reassigned to another pathologist",
    },
    S.CONSULT_PENDING: {S.IN_REVIEW: "consult answered"},
    S.SIGNED_OUT: {},
}

# Statuses in which a case holds an active primary assignment.
ASSIGNED_STATUSES = frozenset({S.ASSIGNED, S.IN_REVIEW, S.CONSULT_PENDING})
OPEN_STATUSES = frozenset(S) - {S.SIGNED_OUT}

SIGNED_OUT_END_REASON = "signed_out"
"""How the primary assignment ends when its pathologist signs the case out (its author keeps
access to the signed case through it: ``worklist.accounts.assignment_gives_access``)."""


def allowed_targets(current: CaseStatus) -> frozenset[CaseStatus]:
    """The statuses a case in ``current`` may move to."""
    return frozenset(TRANSITIONS[current])


def is_allowed(current: CaseStatus, target: CaseStatus) -> bool:
    """Whether ``current -> target`` is a lifecycle move."""
    return target in TRANSITIONS[current]


def check_transition(accession_number: str, current: CaseStatus, target: CaseStatus) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current -> target`` is allowed (a
    :class:`SignedOutError` from a signed-out case, which says what to do instead)."""
    if current is CaseStatus.SIGNED_OUT:
        raise SignedOutError(accession_number, target.value)
    if not is_allowed(current, target):
        allowed = ", ".join(sorted(t.value for t in TRANSITIONS[current])) or "nothing (final)"
        raise InvalidTransitionError(
            accession_number,
            current.value,
            target.value,
            f"from {current.value} it may go to {allowed}",
        )


def transition(case: Case, target: CaseStatus, *, now: datetime) -> None:
    """Move ``case`` to ``target``, or raise and leave it untouched."""
    check_transition(case.accession_number, case.status, target)
    case.status = target
    case.updated_at = now
    if target is CaseStatus.SIGNED_OUT:
        case.signed_out_at = now


def refuse_when_signed_out(case: Case, target: CaseStatus, message: str = "") -> None:
    """Raise :class:`SignedOutError` (with ``message``, if given) if ``case`` is signed out:
    checked before who holds the case, since sign-out ends the primary assignment and "not
    yours" would mislead."""
    if case.status is CaseStatus.SIGNED_OUT:
        raise SignedOutError(case.accession_number, target.value, message)


def start_review_implicitly(case: Case, *, now: datetime) -> bool:
    """Move an "assigned" case to "in_review": working on it (a draft, a consult, sign-out)
    starts its review. Returns whether it moved; any other status is left as it is."""
    if case.status is not CaseStatus.ASSIGNED:
        return False
    transition(case, CaseStatus.IN_REVIEW, now=now)
    return True


def mark_scanned_when_complete(case: Case, *, now: datetime) -> bool:
    """Move a received case to "scanned" once it has slides and every one has its image.

    The one place that decides it, for intake (slides that arrive scanned) and for scans that
    land later. Returns whether the case moved.
    """
    slides = [
        slide for specimen in case.specimens for block in specimen.blocks for slide in block.slides
    ]
    if case.status is not CaseStatus.RECEIVED or not slides:
        return False
    if not all(slide.file_path for slide in slides):
        return False
    transition(case, CaseStatus.SCANNED, now=now)
    return True
