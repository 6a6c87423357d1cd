"""Pathologists taking work themselves (claim, claim next) and giving it back (release)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AssignmentKind, CaseStatus
from worklist.errors import NotAssignedError
from worklist.models import Case, Pathologist, PathologistSubspecialty
from worklist.operations._assigning import add_primary, outside_subspecialty
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import (
    active_assignments,
    end_assignment,
    get_pathologist,
    lock_case,
)
from worklist.operations.receipts import AssignmentReceipt, CaseState
from worklist.operations.review import label_of, pathologist_label


def claim_case(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    confirm_outside_subspecialty: bool = True,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """Take an unassigned case as its primary pathologist; outside one's subspecialties only
    with ``confirm_outside_subspecialty`` (marked in the audit).

    Of many pathologists racing for one case exactly one wins; the others get
    :class:`~worklist.errors.AlreadyAssignedError`.
    """

    def work(session: Session, audit: Recorder) -> AssignmentReceipt:
        case = lock_case(session, case_id, expected_version=expected_version)
        pathologist = get_pathologist(session, pathologist_id)
        assignment = add_primary(
            session, case, pathologist, actor=actor, rule="claim", now=audit.moment
        )
        # After add_primary, so a taken case says so first; a refusal rolls all of it back.
        outside = outside_subspecialty(
            case, pathologist, confirmed=confirm_outside_subspecialty, what="claim"
        )
        audit.record(
            case=case, detail={"pathologist": pathologist.code, "outside_subspecialty": outside}
        )
        return AssignmentReceipt.of(assignment, case)

    return run_audited(engine, actor, "case.claim", work, case_id=case_id, now=now)


def claim_next(
    *,
    engine: Engine,
    actor: Actor,
    pathologist_id: int,
    own_subspecialties_only: bool = True,
    now: datetime | None = None,
) -> AssignmentReceipt | None:
    """Take the most urgent unassigned case (earliest due first), or return None if none is left.

    On PostgreSQL the candidate row is taken with ``FOR UPDATE SKIP LOCKED``, so concurrent
    claimers each get a different case without waiting on one another.
    """

    def work(session: Session, audit: Recorder) -> AssignmentReceipt | None:
        # The case, its claimer and whether it lies in their subspecialties in one query:
        # this is the hottest write path there is.
        inside = Case.tumour_group.in_(
            select(PathologistSubspecialty.subspecialty).where(
                PathologistSubspecialty.pathologist_id == pathologist_id
            )
        )
        query = (
            select(Case, Pathologist, inside.label("inside"))
            .join(Pathologist, and_(Pathologist.id == pathologist_id, Pathologist.active))
            .where(Case.status == CaseStatus.SCANNED)
        )
        if own_subspecialties_only:
            query = query.where(inside)
        query = (
            query.order_by(Case.priority_rank, Case.due_at, Case.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=Case)
        )
        row = session.execute(query).one_or_none()
        if row is None:
            get_pathologist(session, pathologist_id)  # no such pathologist: NotFoundError
            return None
        case, pathologist, in_subspecialty = row
        assignment = add_primary(
            session, case, pathologist, actor=actor, rule="claim-next", now=audit.moment
        )
        audit.record(
            case=case,
            detail={
                "pathologist": pathologist.code,
                "next": True,
                "outside_subspecialty": not in_subspecialty,
            },
        )
        return AssignmentReceipt.of(assignment, case)

    return run_audited(engine, actor, "case.claim", work, now=now)


def why_nothing_to_claim(
    *, engine: Engine, pathologist_id: int, own_subspecialties_only: bool = True
) -> str:
    """Why :func:`claim_next` just gave pathologist ``pathologist_id`` nothing, in words for
    them: no such active pathologist, nothing waiting in the region, nothing in their
    subspecialties (and how many cases wait in others), or every waiting case being taken by
    someone else at that moment. Read after the claim found nothing, so the hot path pays
    nothing for it."""
    with read_session(engine) as session:
        pathologist = session.get(Pathologist, pathologist_id)
        if pathologist is None or not pathologist.active:
            return f"{label_of(session, pathologist_id)} is not an active pathologist"
        waiting = session.scalar(
            select(func.count()).select_from(Case).where(Case.status == CaseStatus.SCANNED)
        )
        if not waiting:
            return "no case is waiting to be claimed in the region"
        if own_subspecialties_only:
            names = sorted(pathologist.subspecialty_names)
            mine = session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.status == CaseStatus.SCANNED, Case.tumour_group.in_(names))
            )
            if not mine:
                return (
                    f"nothing is waiting in the subspecialties of {pathologist_label(pathologist)}"
                    f" ({', '.join(names) or 'none'}); {waiting} case(s) wait in other tumour "
                    "groups: claim with own_subspecialties_only false to take one"
                )
        return "every waiting case was being claimed by someone else at that moment; try again"


def release_case(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    reason: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> CaseState:
    """Give a case back to the unassigned pool ("scanned"), by its primary pathologist."""

    def work(session: Session, audit: Recorder) -> CaseState:
        case = lock_case(session, case_id, expected_version=expected_version)
        primaries = [
            a
            for a in active_assignments(session, case.id, AssignmentKind.PRIMARY)
            if a.pathologist_id == pathologist_id
        ]
        if not primaries:
            lifecycle.refuse_when_signed_out(case, CaseStatus.SCANNED)
            raise NotAssignedError(
                f"case {case.accession_number!r} is not assigned to "
                f"{label_of(session, pathologist_id)}"
            )
        lifecycle.transition(case, CaseStatus.SCANNED, now=audit.moment)
        end_assignment(primaries[0], reason="released", now=audit.moment)
        audit.record(case=case, detail={"pathologist_id": pathologist_id, "reason": reason})
        return CaseState.of(case)

    return run_audited(engine, actor, "case.release", work, case_id=case_id, now=now)
