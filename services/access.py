"""Who may see which case or slide, and the audit record every opening leaves (NEN 7513).

A pathologist sees their own department's cases and the cases assigned to them; another
department's case only through an unexpired grant (a consult, or break-the-glass with a
reason). Lab managers and administrators see the region. Everyone else sees nothing.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.deps import AuthenticatedUser
from services.errors import AccessDeniedError, ResourceNotFoundError
from worklist.accounts import grant_in_force
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import GrantKind, Role
from worklist.models import Assignment, Block, Case, CaseGrant, Slide, Specimen
from worklist.operations import record_access


class AccessBasis(StrEnum):
    """Why a user may open a case (the first that applies, in this order)."""

    REGION = "region"  # lab managers and administrators
    DEPARTMENT = "department"
    ASSIGNMENT = "assignment"
    CONSULT_GRANT = "consult_grant"
    BREAK_GLASS = "break_glass"


def access_basis(
    session: Session, user: AuthenticatedUser, case: Case, now: datetime | None = None
) -> AccessBasis | None:
    """Why ``user`` may open ``case``, or None if they may not (see the module docstring)."""
    if user.role in (Role.LAB_MANAGER, Role.ADMIN):
        return AccessBasis.REGION
    if user.role is not Role.PATHOLOGIST:
        return None
    if user.department_id is not None and case.department_id == user.department_id:
        return AccessBasis.DEPARTMENT
    if user.pathologist_id is not None:
        assigned = session.scalar(
            select(Assignment.id).where(
                Assignment.case_id == case.id,
                Assignment.pathologist_id == user.pathologist_id,
                Assignment.active,
            )
        )
        if assigned is not None:
            return AccessBasis.ASSIGNMENT
    moment = now or datetime.now(UTC)
    kinds = set(
        session.scalars(
            select(CaseGrant.kind).where(
                CaseGrant.case_id == case.id, grant_in_force(user_id=user.id, now=moment)
            )
        )
    )
    # A consult grant is ordinary access; only break-the-glass alone is an emergency access.
    if GrantKind.CONSULT in kinds:
        return AccessBasis.CONSULT_GRANT
    if GrantKind.BREAK_GLASS in kinds:
        return AccessBasis.BREAK_GLASS
    return None


def may_view_case(
    session: Session, user: AuthenticatedUser, case: Case, now: datetime | None = None
) -> bool:
    """Whether ``user`` may open ``case`` (see the module docstring for the rules)."""
    return access_basis(session, user, case, now) is not None


def case_for_viewing(session: Session, user: AuthenticatedUser, case_id: int) -> Case:
    """The case, if it exists and ``user`` may see it; 404 or 403 otherwise."""
    case = session.get(Case, case_id)
    if case is None:
        raise ResourceNotFoundError(f"case {case_id} does not exist")
    if not may_view_case(session, user, case):
        # Named by the id the user asked for: nothing about a case they may not see.
        raise AccessDeniedError(
            f"case {case_id} belongs to another department; ask for a consult grant or use "
            "break-the-glass with a reason"
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
        raise AccessDeniedError(f"slide {slide_id} belongs to a case of another department")
    return slide


def viewing_actor(
    session: Session, user: AuthenticatedUser, case: Case, now: datetime | None = None
) -> Actor:
    """``user.actor`` for opening ``case``; flagged as break-the-glass (purpose "emergency")
    when only a break-the-glass grant lets them see it, so the audit review finds it."""
    if access_basis(session, user, case, now) is not AccessBasis.BREAK_GLASS:
        return user.actor
    return replace(user.actor, break_glass=True, purpose_of_use="emergency")


def _case_of_slide(session: Session, slide_id: int) -> Case | None:
    return session.scalar(
        select(Case)
        .join(Specimen, Specimen.case_id == Case.id)
        .join(Block, Block.specimen_id == Specimen.id)
        .join(Slide, Slide.block_id == Block.id)
        .where(Slide.id == slide_id)
    )


def audit_case_view(engine: Engine, user: AuthenticatedUser, case_id: int) -> None:
    """Record that ``user`` opened a case; raises if the record cannot be written, so the
    request fails rather than showing patient data unaudited."""
    with read_session(engine) as session:
        case = session.get(Case, case_id)
        actor = viewing_actor(session, user, case) if case is not None else user.actor
    record_access(engine=engine, actor=actor, case_id=case_id)


def audit_slide_view(engine: Engine, user: AuthenticatedUser, slide_id: int) -> None:
    """Record that ``user`` opened a slide (once per opening, not per tile)."""
    with read_session(engine) as session:
        case = _case_of_slide(session, slide_id)
        actor = viewing_actor(session, user, case) if case is not None else user.actor
    record_access(engine=engine, actor=actor, slide_id=slide_id)


class SlideViews:
    """Which slides each sign-in session has opened already, in this process.

    NEN 7513 wants one record per user and slide per viewing session, not one per tile:
    whichever route comes first (descriptor or tile) writes it. Keyed by session id, so a new
    sign-in opens anew; a second server process records its own first opening. Past
    ``max_items`` the memory starts over: more records then, never fewer. Thread-safe.
    """

    def __init__(self, max_items: int = 200_000) -> None:
        self._seen: set[tuple[int, int]] = set()
        self._max_items = max_items
        self._lock = threading.Lock()

    def audit_once(self, engine: Engine, user: AuthenticatedUser, slide_id: int) -> None:
        """Record ``user`` opening ``slide_id`` unless their session has already; raises if
        the record cannot be written (and forgets the opening, so the next request tries)."""
        if user.session_id is None:
            audit_slide_view(engine, user, slide_id)
            return
        key = (user.session_id, slide_id)
        with self._lock:
            if key in self._seen:
                return
            if len(self._seen) >= self._max_items:
                self._seen.clear()
            self._seen.add(key)
        try:
            audit_slide_view(engine, user, slide_id)
        except BaseException:
            with self._lock:
                self._seen.discard(key)
            raise

    def clear(self) -> None:
        """Forget every opening."""
        with self._lock:
            self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)
