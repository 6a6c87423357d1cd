"""User accounts and case grants: who may sign in, and who may see which case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import record_event, record_events
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, GrantKind, Role
from worklist.errors import NotFoundError, NotPermittedError, ValidationError
from worklist.models import Case, CaseGrant, Department, Pathologist, UserAccount
from worklist.operations._common import utc_now
from worklist.operations._grants import add_grant, check_grant


@dataclass(frozen=True, slots=True)
class NewUser:
    """An account to create; the password arrives hashed (the service owns hashing)."""

    username: str
    display_name: str
    password_hash: str
    role: Role
    department_code: str | None = None
    pathologist_code: str | None = None


def create_user(*, engine: Engine, actor: Actor, user: NewUser, now: datetime | None = None) -> int:
    """Create an account and return its id; a taken username changes nothing."""
    if not actor.may_manage:
        raise NotPermittedError(f"{actor.user_id} may not create accounts")

    def work(session: Session) -> int:
        department_id = None
        if user.department_code is not None:
            department = session.scalar(
                select(Department).where(Department.code == user.department_code)
            )
            if department is None:
                raise NotFoundError("department", user.department_code)
            department_id = department.id
        pathologist_id = None
        if user.pathologist_code is not None:
            pathologist = session.scalar(
                select(Pathologist).where(Pathologist.code == user.pathologist_code)
            )
            if pathologist is None:
                raise NotFoundError("pathologist", user.pathologist_code)
            pathologist_id = pathologist.id
            department_id = department_id or pathologist.department_id
        if user.role is Role.PATHOLOGIST and pathologist_id is None:
            raise ValidationError("a pathologist account must be linked to a pathologist")
        account = UserAccount(
            username=user.username,
            display_name=user.display_name,
            password_hash=user.password_hash,
            role=user.role,
            department_id=department_id,
            pathologist_id=pathologist_id,
            active=True,
            created_at=utc_now(now),
        )
        session.add(account)
        try:
            session.flush()
        except IntegrityError as exc:
            raise ValidationError(
                f"username {user.username!r} or its pathologist link is taken already"
            ) from exc
        record_event(
            session,
            actor=actor,
            event_type="user.create",
            action=AuditAction.CREATE,
            detail={"username": user.username, "role": user.role.value},
            now=now,
        )
        return account.id

    return run_in_transaction(engine, work)


def find_user_by_username(session: Session, username: str) -> UserAccount | None:
    """The active account called ``username``, if any."""
    return session.scalar(
        select(UserAccount).where(UserAccount.username == username, UserAccount.active)
    )


def grant_case_access(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    user_id: int,
    kind: GrantKind,
    reason: str,
    valid_for: timedelta,
    now: datetime | None = None,
) -> int:
    """Let ``user_id`` see one case outside their department until the grant expires.

    A consult grant is given by someone who may manage work; break-the-glass is taken by the
    user themself, needs a reason, and is flagged in the audit log.
    """
    check_grant(actor, kind, reason)

    def work(session: Session) -> int:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFoundError("case", case_id)
        if session.get(UserAccount, user_id) is None:
            raise NotFoundError("user", user_id)
        grant, entry = add_grant(
            session,
            actor=actor,
            case=case,
            user_id=user_id,
            kind=kind,
            reason=reason,
            valid_for=valid_for,
            now=utc_now(now),
        )
        audited = actor if kind is GrantKind.CONSULT else _break_glass(actor)
        record_events(session, actor=audited, entries=[entry], now=now)
        return grant.id

    return run_in_transaction(engine, work)


def _break_glass(actor: Actor) -> Actor:
    return Actor(
        user_id=actor.user_id,
        role=actor.role,
        site=actor.site,
        on_behalf_of=actor.on_behalf_of,
        purpose_of_use="emergency",
        break_glass=True,
    )


def grant_in_force(
    *, user_id: int | ColumnElement[int], now: datetime | ColumnElement[datetime]
) -> ColumnElement[bool]:
    """The WHERE clause of ``user_id``'s grants in force at ``now``: not revoked, not expired.

    Either may be a column or a bound parameter, for a statement built once and run often.

    The one definition of a valid grant, for the access check of one case and for the
    filter of case lists alike.
    """
    return and_(
        CaseGrant.user_id == user_id,
        CaseGrant.revoked_at.is_(None),
        CaseGrant.expires_at > now,
    )
