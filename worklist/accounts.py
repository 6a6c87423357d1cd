"""User accounts and case grants: who may sign in, and who may see which case.

An account's rules live here: user names are unique whatever their case, a pathologist
account's department is its pathologist's, no account has the ``system`` role, an active
administrator always remains. Passwords arrive hashed, after :mod:`worklist.passwords` has
accepted them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

from sqlalchemy import ColumnElement, Engine, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.audit import record_events
from worklist.db import run_in_transaction
from worklist.enums import AssignmentKind, AuditAction, GrantKind, Role
from worklist.errors import NotFoundError, NotPermittedError, ValidationError, WorklistError
from worklist.models import Assignment, Case, CaseGrant, Department, Pathologist, UserAccount
from worklist.models.access import username_key
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import utc_now
from worklist.operations._grants import add_grant, check_grant
from worklist.sessions import end_user_sessions

PASSWORD_CHANGED = "password_changed"
"""Why a user's other sessions ended: they changed their password."""


class AccountConflictError(WorklistError):
    """A user name (whatever its case) or a pathologist link that another account has."""


class Keep(Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""A field of :class:`UserChanges` left as it is (``None`` means "set to none")."""


@dataclass(frozen=True, slots=True)
class NewUser:
    """An account to create; the password arrives hashed (the service owns hashing).

    A pathologist account names its pathologist; its department is the pathologist's (given
    or not). No account has the ``system`` role: that is the platform's own.
    """

    username: str
    display_name: str
    password_hash: str
    role: Role
    department_code: str | None = None
    pathologist_code: str | None = None


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What an administrator changes on an account; :data:`KEEP` (the default) leaves a field.

    A new ``pathologist_code`` brings its department along unless ``department_code`` is given
    too (then they must agree). ``active=False`` disables the account and ends its sessions; a
    new ``password_hash`` (a reset) ends them as well.
    """

    username: str | Keep = KEEP
    display_name: str | Keep = KEEP
    password_hash: str | Keep = KEEP
    role: Role | Keep = KEEP
    department_code: str | Keep | None = KEEP
    pathologist_code: str | Keep | None = KEEP
    active: bool | Keep = KEEP


def create_user(*, engine: Engine, actor: Actor, user: NewUser, now: datetime | None = None) -> int:
    """Create an account and return its id; a taken username changes nothing.

    :class:`AccountConflictError` when the name (in any case) or the pathologist is taken;
    :class:`ValidationError` when the role, department and pathologist do not fit together.
    """

    def work(session: Session, recorder: Recorder) -> int:
        account = UserAccount(
            username=user.username,
            display_name=user.display_name,
            password_hash=user.password_hash,
            role=user.role,
            department_id=None,
            pathologist_id=None,
            active=True,
            created_at=recorder.moment,
        )
        _link(
            session,
            account,
            department_code=KEEP if user.department_code is None else user.department_code,
            pathologist_code=KEEP if user.pathologist_code is None else user.pathologist_code,
        )
        _check_account(session, account)
        session.add(account)
        _flush(session, account)
        recorder.record(detail={"username": user.username, "role": user.role.value})
        return account.id

    return run_audited(
        engine,
        actor,
        "user.create",
        work,
        action=AuditAction.CREATE,
        check=lambda: _check_may_manage(actor),
        now=now,
    )


def update_user(
    *,
    engine: Engine,
    actor: Actor,
    user_id: int,
    changes: UserChanges,
    now: datetime | None = None,
) -> None:
    """Change an account (audited as ``user.update``, naming what changed, never a password).

    Disabling it or resetting its password ends its sessions at once. Refused, changing
    nothing: a name or pathologist taken (:class:`AccountConflictError`), a role, department
    and pathologist that do not fit (:class:`ValidationError`), or a change that would leave
    no active administrator (:class:`AccountConflictError`).
    """
    moment = utc_now(now)

    def work(session: Session, recorder: Recorder) -> str | None:
        """The update; why the account's sessions must end, if they must."""
        account = session.get(UserAccount, user_id, with_for_update=True)
        if account is None:
            raise NotFoundError("user", user_id)
        was_active = account.active
        was_admin = account.active and account.role is Role.ADMIN
        changed: dict[str, Any] = {}
        for name in ("username", "display_name", "role", "active"):
            value = getattr(changes, name)
            if value is not KEEP and value != getattr(account, name):
                setattr(account, name, value)
                changed[name] = value.value if isinstance(value, Role) else value
        if changes.password_hash is not KEEP:
            account.password_hash = changes.password_hash
            changed["password"] = "reset"
        before = (account.department_id, account.pathologist_id)
        with session.no_autoflush:  # checked first, so a taken name is named, not a raw error
            _link(
                session,
                account,
                department_code=changes.department_code,
                pathologist_code=changes.pathologist_code,
            )
            if (account.department_id, account.pathologist_id) != before:
                changed["department_id"] = account.department_id
                changed["pathologist_id"] = account.pathologist_id
            _check_account(session, account)
        _flush(session, account)
        if was_admin and not (account.active and account.role is Role.ADMIN):
            _check_an_admin_remains(session)
        recorder.record(detail={"user": user_id, "changes": changed})
        if was_active and not account.active:
            return "account_disabled"
        return "ended_by_admin" if "password" in changed else None

    end_reason = run_audited(
        engine,
        actor,
        "user.update",
        work,
        action=AuditAction.UPDATE,
        check=lambda: _check_may_manage(actor),
        now=moment,
    )
    if end_reason is not None:
        # A disabled account's sessions fail authentication already; this ends them for good
        # (and a reset password's at once), audited as such.
        end_user_sessions(
            engine=engine, actor=actor, user_id=user_id, reason=end_reason, now=moment
        )


def change_password(
    *,
    engine: Engine,
    actor: Actor,
    user_id: int,
    password_hash: str,
    keep_session_id: int | None,
    now: datetime | None = None,
) -> int:
    """A user's own new password (the caller has checked the current one and the policy).

    Audited as ``user.password_change`` (never the password); every other session of the user
    ends, ``keep_session_id`` (the one asking) goes on. How many sessions ended.
    """
    moment = utc_now(now)

    def work(session: Session, recorder: Recorder) -> None:
        account = session.get(UserAccount, user_id, with_for_update=True)
        if account is None or not account.active:
            raise NotFoundError("user", user_id)
        account.password_hash = password_hash
        recorder.record(detail={"user": user_id})

    run_audited(engine, actor, "user.password_change", work, now=moment)
    return end_user_sessions(
        engine=engine,
        actor=actor,
        user_id=user_id,
        reason=PASSWORD_CHANGED,
        keep_session_id=keep_session_id,
        now=moment,
    )


def find_user_by_username(session: Session, username: str) -> UserAccount | None:
    """The active account called ``username`` (in any case: ``Alice`` finds ``alice``)."""
    return session.scalar(
        select(UserAccount).where(
            UserAccount.username_key == username_key(username), UserAccount.active
        )
    )


def _check_may_manage(actor: Actor) -> None:
    if not actor.may_manage:
        raise NotPermittedError(f"{actor.user_id} may not manage accounts")


def _link(
    session: Session,
    account: UserAccount,
    *,
    department_code: str | Keep | None,
    pathologist_code: str | Keep | None,
) -> None:
    """Set the account's department and pathologist from their codes; a new pathologist
    brings its department unless one is given."""
    if pathologist_code is not KEEP:
        pathologist = None
        if pathologist_code is not None:
            pathologist = session.scalar(
                select(Pathologist).where(Pathologist.code == pathologist_code)
            )
            if pathologist is None:
                raise NotFoundError("pathologist", pathologist_code)
        account.pathologist_id = pathologist.id if pathologist is not None else None
        if pathologist is not None and department_code is KEEP:
            account.department_id = pathologist.department_id
    if department_code is not KEEP:
        department_id = None
        if department_code is not None:
            department_id = session.scalar(
                select(Department.id).where(Department.code == department_code)
            )
            if department_id is None:
                raise NotFoundError("department", department_code)
        account.department_id = department_id


def _check_account(session: Session, account: UserAccount) -> None:
    """The rules an account's role, department and pathologist link obey together."""
    if account.role is Role.SYSTEM:
        raise ValidationError("no account can have the system role: it is the platform's own")
    if account.role is Role.PATHOLOGIST and account.pathologist_id is None:
        raise ValidationError("a pathologist account must be linked to a pathologist")
    if account.pathologist_id is not None:
        pathologist = session.get(Pathologist, account.pathologist_id)
        assert pathologist is not None  # _link found it
        if account.department_id != pathologist.department_id:
            raise ValidationError(
                f"pathologist {pathologist.code!r} works at department "
                f"{pathologist.department.code!r}: the account's department must be that one"
            )
    name_taken = session.scalar(
        select(UserAccount.username).where(
            UserAccount.username_key == account.username_key,
            UserAccount.id != (account.id or 0),
        )
    )
    if name_taken is not None:
        raise AccountConflictError(
            f"user name {account.username!r} is taken already (as {name_taken!r}): user "
            "names are the same whatever their case"
        )
    if account.pathologist_id is not None:
        linked = session.scalar(
            select(UserAccount.username).where(
                UserAccount.pathologist_id == account.pathologist_id,
                UserAccount.id != (account.id or 0),
            )
        )
        if linked is not None:
            raise AccountConflictError(f"that pathologist has an account already: {linked!r}")


def _flush(session: Session, account: UserAccount) -> None:
    """Write the account; a name or link taken meanwhile by another transaction is a conflict."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise AccountConflictError(
            f"user name {account.username!r} or its pathologist link is taken already"
        ) from exc


def _check_an_admin_remains(session: Session) -> None:
    # Locked, so that two administrators disabling each other at once cannot both succeed.
    admins = session.scalars(
        select(UserAccount.id)
        .where(UserAccount.role == Role.ADMIN, UserAccount.active)
        .with_for_update()
    ).all()
    if not admins:
        raise AccountConflictError("this would leave no active administrator")


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


def assignment_gives_access(
    *, pathologist_id: int | ColumnElement[int | None] | None
) -> ColumnElement[bool]:
    """The WHERE clause of the assignments through which ``pathologist_id`` may open a case:
    every active one, and the primary read they signed out (its author reads the signed case
    and adds addenda to it, also when the case is another department's).

    The one definition, for the access check of one case and for the filter of case lists.
    """
    return and_(
        Assignment.pathologist_id == pathologist_id,
        Assignment.active
        | (
            (Assignment.kind == AssignmentKind.PRIMARY)
            & (Assignment.end_reason == lifecycle.SIGNED_OUT_END_REASON)
        ),
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
