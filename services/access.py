"""Who may see which case or slide, and the audit record every opening leaves (NEN 7513).

A pathologist sees their own department's cases and the cases assigned to them; another
department's case only through an unexpired grant (a consult, or break-the-glass with a
reason). Lab managers and administrators see the region. Everyone else sees nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.deps import AuthenticatedUser
from services.errors import AccessDeniedError, ResourceNotFoundError
from worklist.accounts import active_grant
from worklist.enums import Role
from worklist.models import Assignment, Block, Case, Slide, Specimen
from worklist.operations import record_access


def may_view_case(
    session: Session, user: AuthenticatedUser, case: Case, now: datetime | None = None
) -> bool:
    """Whether ``user`` may open ``case`` (see the module docstring for the rules)."""
    if user.role in (Role.LAB_MANAGER, Role.ADMIN):
        return True
    if user.role is not Role.PATHOLOGIST:
        return False
    if user.department_id is not None and case.department_id == user.department_id:
        return True
    if user.pathologist_id is not None:
        assigned = session.scalar(
            select(Assignment.id).where(
                Assignment.case_id == case.id,
                Assignment.pathologist_id == user.pathologist_id,
                Assignment.active,
            )
        )
        if assigned is not None:
            return True
    moment = now or datetime.now(UTC)
    return active_grant(session, case_id=case.id, user_id=user.id, now=moment) is not None


def case_for_viewing(session: Session, user: AuthenticatedUser, case_id: int) -> Case:
    """The case, if it exists and ``user`` may see it; 404 or 403 otherwise."""
    case = session.get(Case, case_id)
    if case is None:
        raise ResourceNotFoundError(f"case {case_id} does not exist")
    if not may_view_case(session, user, case):
        raise AccessDeniedError(
            f"case {case.accession_number} belongs to another department; ask for a consult "
            "grant or use break-the-glass with a reason"
        )
    return case


def slide_for_viewing(session: Session, user: AuthenticatedUser, slide_id: int) -> Slide:
    """The slide, if it exists and ``user`` may see its case; 404 or 403 otherwise."""
    row = session.execute(
        select(Slide, Case)
        .join(Block, Slide.block_id == Block.id)
        .join(Specimen, Block.specimen_id == Specimen.id)
        .join(Case, Specimen.case_id == Case.id)
        .where(Slide.id == slide_id)
    ).first()
    if row is None:
        raise ResourceNotFoundError(f"slide {slide_id} does not exist")
    slide, case = row
    if not may_view_case(session, user, case):
        raise AccessDeniedError(
            f"slide {slide_id} belongs to case {case.accession_number} of another department"
        )
    return slide


def audit_case_view(engine: Engine, user: AuthenticatedUser, case_id: int) -> None:
    """Record that ``user`` opened a case; raises if the record cannot be written, so the
    request fails rather than showing patient data unaudited."""
    record_access(engine=engine, actor=user.actor, case_id=case_id)


def audit_slide_view(engine: Engine, user: AuthenticatedUser, slide_id: int) -> None:
    """Record that ``user`` opened a slide (once per opening, not per tile)."""
    record_access(engine=engine, actor=user.actor, slide_id=slide_id)
