"""The service's side of sign-in sessions: settings turned into limits, and a token checked.

The rules (what ends a session, what the throttle counts) are :mod:`worklist.sessions`'s;
this module composes them with the request: it finds the session a token names, ends and
audits an expired one when it is presented, and builds the signed-in user.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, bindparam, select

from services.errors import NotAuthenticatedError
from services.identity import AuthenticatedUser
from services.security import PasswordPool, csrf_token
from services.settings import Settings
from worklist.actor import Actor
from worklist.models import Department, UserAccount, UserSession
from worklist.sessions import (
    SessionLimits,
    SignInThrottle,
    end_session,
    hash_token,
    start_session,
    touch_session,
)

__all__ = ["SessionService"]

_ENDED = {
    "signed_out": "this session was ended by signing out; sign in again",
    "ended_by_admin": "this session was ended by an administrator; sign in again",
    "account_disabled": "the account behind this session is disabled",
    "password_changed": "the password was changed in another session; sign in again",
    "idle": "session expired: unused for too long; sign in again",
    "lifetime": "session expired: it reached its maximum lifetime; sign in again",
}


class SessionService:
    """Sessions of one running app: their limits, the sign-in throttle, the password pool."""

    def __init__(self, *, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.limits = SessionLimits(
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
        )
        self.throttle = SignInThrottle(
            per_account=settings.sign_in_failures_per_account,
            per_address=settings.sign_in_failures_per_address,
            window=timedelta(minutes=settings.sign_in_failure_window_minutes),
        )
        self.passwords = PasswordPool(settings.password_hash_workers)
        self._secret_key = settings.resolved_secret_key()
        self._signed_in_query = _signed_in_query()

    @property
    def lifetime_s(self) -> int:
        """A session's absolute lifetime in seconds (the cookie's max-age)."""
        return int(self.limits.lifetime.total_seconds())

    def csrf_token(self, token: str) -> str:
        """The CSRF token that goes with the session ``token``."""
        return csrf_token(self._secret_key, token)

    def issue(self, user_id: int) -> str:
        """A session token for ``user_id`` without a sign-in (tests, tools): not audited."""
        token, _ = start_session(
            engine=self.engine, actor=Actor.system(), user_id=user_id, audited=False
        )
        return token

    def signed_in_query(self) -> Select[Any]:
        """The query of the session a token names (``token_hash`` bound), with its account
        and the account's department: plain columns, no ORM objects, built once.

        :meth:`signed_in` reads its rows; the per-tile check extends it with the slide's
        access facts, so that a tile costs one query.
        """
        return self._signed_in_query

    def authenticate(
        self, connection: Connection, token: str, now: datetime | None = None
    ) -> AuthenticatedUser:
        """The user behind ``token`` (an active account, a session not over); 401 otherwise."""
        row = connection.execute(self._signed_in_query, {"token_hash": hash_token(token)}).first()
        return self.signed_in(row, now)

    def signed_in(self, row: Row[Any] | None, now: datetime | None = None) -> AuthenticatedUser:
        """The user of a row of :meth:`signed_in_query` (None: no such session); 401 when
        the session is over or the account disabled.

        An expired session is ended (and its expiry audited) by the first request that
        presents it; a used one has its last use noted.
        """
        if row is None:
            raise NotAuthenticatedError("invalid session token")
        moment = now or datetime.now(UTC)
        user = AuthenticatedUser(
            id=row.user_id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            department_id=row.department_id,
            department_code=row.department_code,
            pathologist_id=row.pathologist_id,
            session_id=row.session_id,
        )
        reason = self.limits.end_reason(row, moment)
        if reason is None and not row.active:
            reason = "account_disabled"
        if reason is not None:
            if row.ended_at is None:
                end_session(
                    engine=self.engine,
                    actor=user.actor,
                    session_id=row.session_id,
                    reason=reason,
                    now=moment,
                )
            raise NotAuthenticatedError(_ENDED.get(reason, "this session has ended"))
        touch_session(
            engine=self.engine, session_id=row.session_id, last_seen_at=row.last_seen_at, now=moment
        )
        return user

    def close(self) -> None:
        """Stop the password pool."""
        self.passwords.close()


def _signed_in_query() -> Select[Any]:
    columns: list[Any] = [
        UserSession.id.label("session_id"),
        UserSession.created_at,
        UserSession.last_seen_at,
        UserSession.ended_at,
        UserSession.end_reason,
        UserAccount.id.label("user_id"),
        UserAccount.username,
        UserAccount.display_name,
        UserAccount.role,
        UserAccount.active,
        UserAccount.department_id,
        UserAccount.pathologist_id,
        Department.code.label("department_code"),
    ]
    return (
        select(*columns)
        .select_from(UserSession)
        .join(UserAccount, UserAccount.id == UserSession.user_id)
        .outerjoin(Department, Department.id == UserAccount.department_id)
        .where(UserSession.token_hash == bindparam("token_hash"))
    )
