"""Who may see which case or slide, and the audit record every opening leaves (NEN 7513).

A pathologist sees their own department's cases and the cases assigned to them; another
department's case only through an unexpired grant (a consult, or break-the-glass with a
reason). Lab managers and administrators see the region. Everyone else (a privacy officer
included) sees nothing clinical.

The rule is :func:`basis_for`, over facts that one query reads (:func:`access_fact_columns`,
correlated ``EXISTS`` over assignments and grants), so the same query serves one case, one
slide, and a tile, where the facts ride along with the session check
(:mod:`services.slide_gate`). Case lists filter with :func:`services.case_queries.visible_to`,
the same rule as SQL over the same grant definition.

Every opening and every refusal leaves a record, one per sign-in session and case or slide
(:class:`ViewLog`), however many requests the viewer makes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.errors import AccessDeniedError, ResourceNotFoundError, SlideWithdrawnError
from services.identity import AuthenticatedUser
from worklist.accounts import assignment_gives_access, grant_in_force
from worklist.actor import Actor
from worklist.enums import GrantKind, Role
from worklist.models import Assignment, Block, Case, CaseGrant, Slide, Specimen
from worklist.operations.viewing import record_view
from worklist.operations.withdrawal import describe_withdrawal


class AccessBasis(StrEnum):
    """Why a user may open a case (the first that applies, in this order)."""

    REGION = "region"  # lab managers and administrators
    DEPARTMENT = "department"
    ASSIGNMENT = "assignment"
    CONSULT_GRANT = "consult_grant"
    BREAK_GLASS = "break_glass"


@dataclass(frozen=True, slots=True)
class CaseAccessFacts:
    """What the rule needs to know of one case for one user."""

    case_department_id: int
    assigned: bool  # an active assignment of the case to the user's pathologist
    consult_grant: bool  # a consult grant to the user, in force
    break_glass_grant: bool  # a break-the-glass grant to the user, in force


CLINICAL_ROLES = frozenset({Role.PATHOLOGIST, Role.LAB_MANAGER, Role.ADMIN})
"""The roles that may see clinical content at all (a privacy officer reads only the audit)."""


def require_clinical(user: AuthenticatedUser) -> None:
    """Refuse (403) a user whose role sees no clinical content, whatever the case."""
    if user.role not in CLINICAL_ROLES:
        raise AccessDeniedError(_not_clinical(user))


def _not_clinical(user: AuthenticatedUser) -> str:
    return (
        f"the role {user.role.value} sees the audit log, not clinical content "
        "(cases, slides, worklists)"
    )


def basis_for(user: AuthenticatedUser, facts: CaseAccessFacts) -> AccessBasis | None:
    """Why ``user`` may open the case of ``facts``, or None if they may not."""
    if user.role in (Role.LAB_MANAGER, Role.ADMIN):
        return AccessBasis.REGION
    if user.role is not Role.PATHOLOGIST:
        return None
    if user.department_id is not None and facts.case_department_id == user.department_id:
        return AccessBasis.DEPARTMENT
    if facts.assigned:
        return AccessBasis.ASSIGNMENT
    # A consult grant is ordinary access; only break-the-glass alone is an emergency access.
    if facts.consult_grant:
        return AccessBasis.CONSULT_GRANT
    if facts.break_glass_grant:
        return AccessBasis.BREAK_GLASS
    return None


def access_fact_columns(
    *,
    user_id: int | ColumnElement[int],
    pathologist_id: int | ColumnElement[int | None] | None,
    case_id: ColumnElement[int] | InstrumentedAttribute[int],
    now: datetime | ColumnElement[datetime],
) -> list[Any]:
    """The labelled columns ``assigned``, ``consult_grant`` and ``break_glass_grant`` of
    :class:`CaseAccessFacts`, for a query that has the case (``case_id``) in it."""

    def granted(kind: GrantKind) -> ColumnElement[bool]:
        return exists().where(
            CaseGrant.case_id == case_id,
            CaseGrant.kind == kind,
            grant_in_force(user_id=user_id, now=now),
        )

    assigned = exists().where(
        Assignment.case_id == case_id, assignment_gives_access(pathologist_id=pathologist_id)
    )
    return [
        assigned.label("assigned"),
        granted(GrantKind.CONSULT).label("consult_grant"),
        granted(GrantKind.BREAK_GLASS).label("break_glass_grant"),
    ]


def facts_of_row(row: Any) -> CaseAccessFacts:
    """The facts of a row with ``case_department_id`` and :func:`access_fact_columns`."""
    return CaseAccessFacts(
        case_department_id=row.case_department_id,
        assigned=bool(row.assigned),
        consult_grant=bool(row.consult_grant),
        break_glass_grant=bool(row.break_glass_grant),
    )


def acting_actor(user: AuthenticatedUser, basis: AccessBasis) -> Actor:
    """``user.actor`` for what they do on a case they may open on ``basis``: flagged as
    break-the-glass (purpose "emergency") when only an emergency grant lets them in, so the
    audit review finds every view and every action taken under it."""
    if basis is not AccessBasis.BREAK_GLASS:
        return user.actor
    return replace(user.actor, break_glass=True, purpose_of_use="emergency")


@dataclass(frozen=True, slots=True)
class CaseAccess:
    """A case the user may open: why, and the actor to act as on it."""

    case: Case
    basis: AccessBasis
    actor: Actor

    def require_ordinary(self, action: str) -> None:
        """Refuse (403) ``action`` ("claim", "reassign") on the strength of an emergency
        grant alone: break-the-glass lets a pathologist read a case, not take it."""
        if self.basis is AccessBasis.BREAK_GLASS:
            raise AccessDeniedError(
                f"an emergency (break-the-glass) grant lets you read case {self.case.id}, "
                f"not {action} it"
            )


@dataclass(frozen=True, slots=True)
class SlideAccess:
    """A slide the user may open: its file, its case, why, and the actor to act as."""

    slide_id: int
    case_id: int
    file_path: str | None
    basis: AccessBasis
    actor: Actor


def open_case(
    session: Session,
    user: AuthenticatedUser,
    case_id: int,
    *,
    views: ViewLog | None = None,
    now: datetime | None = None,
) -> CaseAccess:
    """The case, if it exists and ``user`` may see it; 404, or an audited 403, otherwise.

    A refusal is audited: once per sign-in session with ``views``, else every time. The
    opening is the caller's to audit once it has what it shows (:meth:`ViewLog.opened`).
    """
    moment = now or datetime.now(UTC)
    row = session.execute(
        select(
            Case,
            Case.department_id.label("case_department_id"),
            *access_fact_columns(
                user_id=user.id, pathologist_id=user.pathologist_id, case_id=Case.id, now=moment
            ),
        ).where(Case.id == case_id)
    ).first()
    if row is None:
        raise ResourceNotFoundError(f"case {case_id} does not exist")
    basis = basis_for(user, facts_of_row(row))
    engine = _engine_of(session)
    if basis is None:
        # Named by the id the user asked for: nothing about a case they may not see.
        refusal = AccessDeniedError(
            f"case {case_id} belongs to another department; ask for a consult grant or use "
            "break-the-glass with a reason"
            if user.role in CLINICAL_ROLES
            else _not_clinical(user)
        )
        _log(views, engine, user, None, case_id=case_id, refusal=refusal)
        raise refusal
    return CaseAccess(case=row[0], basis=basis, actor=acting_actor(user, basis))


def case_for_viewing(session: Session, user: AuthenticatedUser, case_id: int) -> Case:
    """The case, if it exists and ``user`` may see it; 404 or an audited 403 otherwise."""
    return open_case(session, user, case_id).case


def may_view_case(
    session: Session, user: AuthenticatedUser, case: Case, now: datetime | None = None
) -> bool:
    """Whether ``user`` may open ``case`` (no audit record: for deciding what to show)."""
    row = session.execute(
        select(
            Case.department_id.label("case_department_id"),
            *access_fact_columns(
                user_id=user.id,
                pathologist_id=user.pathologist_id,
                case_id=Case.id,
                now=now or datetime.now(UTC),
            ),
        ).where(Case.id == case.id)
    ).one()
    return basis_for(user, facts_of_row(row)) is not None


def slide_access_columns(*, user_id: Any, pathologist_id: Any, now: Any) -> list[Any]:
    """The columns ``slide_file``, the slide's withdrawal (``slide_withdrawn_at``,
    ``slide_withdrawal_reason``), ``case_id``, ``case_department_id`` and the access facts
    of a query that has the slide and its case in it (:func:`slide_to_case_joins`).

    The arguments are values, bound parameters or columns (the per-tile query takes the
    user's from the session row it reads in the same statement).
    """
    return [
        Slide.file_path.label("slide_file"),
        Slide.withdrawn_at.label("slide_withdrawn_at"),
        Slide.withdrawal_reason.label("slide_withdrawal_reason"),
        Case.id.label("case_id"),
        Case.department_id.label("case_department_id"),
        *access_fact_columns(
            user_id=user_id, pathologist_id=pathologist_id, case_id=Case.id, now=now
        ),
    ]


def slide_to_case_joins() -> list[tuple[Any, ColumnElement[bool]]]:
    """The joins from a slide to its case, in order: (table, on clause)."""
    return [
        (Block, Block.id == Slide.block_id),
        (Specimen, Specimen.id == Block.specimen_id),
        (Case, Case.id == Specimen.case_id),
    ]


def slide_access_from_row(
    row: Any,
    user: AuthenticatedUser,
    slide_id: int,
    *,
    engine: Engine,
    views: ViewLog | None,
) -> SlideAccess:
    """The access of a row with :func:`slide_access_columns`: 404 when the slide does not exist
    (``case_id`` None), an audited 403 when the user may not see its case, and 410 for
    everyone else when it was withdrawn (:mod:`worklist.operations.withdrawal`)."""
    if row is None or row.case_id is None:
        raise ResourceNotFoundError(f"slide {slide_id} does not exist")
    basis = basis_for(user, facts_of_row(row))
    if basis is None:
        refusal = AccessDeniedError(
            f"slide {slide_id} belongs to a case of another department"
            if user.role in CLINICAL_ROLES
            else _not_clinical(user)
        )
        _log(views, engine, user, None, case_id=row.case_id, slide_id=slide_id, refusal=refusal)
        raise refusal
    if row.slide_withdrawn_at is not None:
        # After the access check: someone who may not see the case learns nothing of it.
        raise SlideWithdrawnError(
            describe_withdrawal(slide_id, row.slide_withdrawn_at, row.slide_withdrawal_reason)
        )
    return SlideAccess(
        slide_id=slide_id,
        case_id=row.case_id,
        file_path=row.slide_file,
        basis=basis,
        actor=acting_actor(user, basis),
    )


def open_slide(
    session: Session,
    user: AuthenticatedUser,
    slide_id: int,
    *,
    views: ViewLog | None = None,
    now: datetime | None = None,
) -> SlideAccess:
    """The slide, if it exists and ``user`` may see its case; 404, or an audited 403 (once
    per sign-in session with ``views``). The opening is the caller's to audit, once it has
    read what it shows (:meth:`ViewLog.opened`): a slide that cannot be read opened nothing."""
    columns = slide_access_columns(
        user_id=user.id, pathologist_id=user.pathologist_id, now=now or datetime.now(UTC)
    )
    query = select(*columns).select_from(Slide)
    for table, on in slide_to_case_joins():
        query = query.join(table, on)
    row = session.execute(query.where(Slide.id == slide_id)).first()
    return slide_access_from_row(row, user, slide_id, engine=_engine_of(session), views=views)


def slide_for_viewing(session: Session, user: AuthenticatedUser, slide_id: int) -> Slide:
    """The slide, if it exists and ``user`` may see its case; 404 or an audited 403."""
    open_slide(session, user, slide_id)
    return session.get_one(Slide, slide_id)


class ViewLog:
    """What each sign-in session has opened, or been refused, in this process: the audit
    record of a case or slide is written when that changes, not on every request.

    NEN 7513 wants one record per user and slide (or case) per viewing session, not one per
    tile: whichever route comes first writes it. A refusal is recorded the same way (once,
    and again after an opening in between). Keyed by session id, so a new sign-in opens
    anew; a second server process records its own first opening. Past ``max_items`` the
    memory starts over: more records then, never fewer. Thread-safe.
    """

    def __init__(self, max_items: int = 200_000) -> None:
        self._outcomes: dict[tuple[int, str, int], bool] = {}
        self._max_items = max_items
        self._lock = threading.Lock()

    def record(
        self,
        engine: Engine,
        user: AuthenticatedUser,
        actor: Actor | None,
        *,
        case_id: int,
        slide_id: int | None = None,
        refusal: AccessDeniedError | None = None,
        prefetched: bool = False,
    ) -> None:
        """Audit ``user`` opening (``refusal`` None) or being refused a case or slide unless
        their session's last record for it says the same; raises if the record cannot be
        written (and forgets, so that the next request tries again).

        ``prefetched``: fetched ahead for "Next case", not yet shown. Recorded once as such,
        not at all once the user opened it this session; it does not count as the opening,
        which is recorded when they open it (the page asks for the case and the slide's
        descriptor again then: neither is kept in the browser's cache).
        """
        opened = refusal is None
        if user.session_id is None:
            _write(engine, user, actor, case_id, slide_id, refusal, prefetched)
            return
        kind = "slide" if slide_id is not None else "case"
        key = (user.session_id, kind, slide_id or case_id)
        with self._lock:
            if prefetched and opened:
                if self._outcomes.get(key) is True:
                    return  # opened already: fetching it again shows nothing new
                key = (user.session_id, f"{kind}.prefetch", slide_id or case_id)
            if self._outcomes.get(key) is opened:
                return
            if len(self._outcomes) >= self._max_items:
                self._outcomes.clear()
            self._outcomes[key] = opened
        try:
            _write(engine, user, actor, case_id, slide_id, refusal, prefetched and opened)
        except BaseException:
            with self._lock:
                self._outcomes.pop(key, None)
            raise

    def opened(
        self,
        engine: Engine,
        user: AuthenticatedUser,
        access: CaseAccess | SlideAccess,
        *,
        prefetched: bool = False,
    ) -> None:
        """Audit ``user`` opening the case or slide of ``access`` (or, with ``prefetched``,
        its being fetched ahead), once per sign-in session."""
        if isinstance(access, SlideAccess):
            self.record(
                engine,
                user,
                access.actor,
                case_id=access.case_id,
                slide_id=access.slide_id,
                prefetched=prefetched,
            )
        else:
            self.record(engine, user, access.actor, case_id=access.case.id, prefetched=prefetched)

    def clear(self) -> None:
        """Forget every opening and refusal."""
        with self._lock:
            self._outcomes.clear()

    def __len__(self) -> int:
        return len(self._outcomes)


def _write(
    engine: Engine,
    user: AuthenticatedUser,
    actor: Actor | None,
    case_id: int,
    slide_id: int | None,
    refusal: AccessDeniedError | None,
    prefetched: bool = False,
) -> None:
    record_view(
        engine=engine,
        actor=actor or user.actor,
        case_id=case_id,
        slide_id=slide_id,
        refused_reason=None if refusal is None else str(refusal),
        prefetched=prefetched,
    )


def _log(
    views: ViewLog | None,
    engine: Engine,
    user: AuthenticatedUser,
    actor: Actor | None,
    *,
    case_id: int,
    slide_id: int | None = None,
    refusal: AccessDeniedError,
) -> None:
    """Record a refusal: once per session with a :class:`ViewLog`, else every time."""
    if views is not None:
        views.record(engine, user, actor, case_id=case_id, slide_id=slide_id, refusal=refusal)
    else:
        _write(engine, user, actor, case_id, slide_id, refusal)


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


__all__ = [
    "CLINICAL_ROLES",
    "AccessBasis",
    "CaseAccess",
    "CaseAccessFacts",
    "SlideAccess",
    "ViewLog",
    "access_fact_columns",
    "acting_actor",
    "basis_for",
    "case_for_viewing",
    "may_view_case",
    "open_case",
    "open_slide",
    "require_clinical",
    "slide_access_columns",
    "slide_access_from_row",
    "slide_for_viewing",
    "slide_to_case_joins",
]
