"""The service's side of sign-in sessions: settings turned into limits, and a token checked.

The rules (what ends a session, what the throttle counts) are :mod:`worklist.sessions`'s;
this module composes them with the request: it finds the session a token names, ends and
audits an expired one when it is presented, and builds the signed-in user.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload

from services.errors import NotAuthenticatedError
from services.security import PasswordPool, csrf_token
from services.settings import Settings
from worklist.actor import Actor
from worklist.models import UserAccount, UserSession
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

    def authenticate(
        self, session: Session, token: str, now: datetime | None = None
    ) -> tuple[UserAccount, int]:
        """The active account behind ``token`` and its session id; 401 otherwise.

        An expired session is ended (and its expiry audited) by the first request that
        presents it; a used one has its last use noted.
        """
        moment = now or datetime.now(UTC)
        row = session.execute(
            select(UserSession, UserAccount)
            .join(UserAccount, UserAccount.id == UserSession.user_id)
            .options(joinedload(UserAccount.department))
            .where(UserSession.token_hash == hash_token(token))
        ).first()
        if row is None:
            raise NotAuthenticatedError("invalid session token")
        user_session, account = row
        reason = self.limits.end_reason(user_session, moment)
        if reason is None and not account.active:
            reason = "account_disabled"
        if reason is not None:
            if user_session.ended_at is None:
                actor = Actor(
                    user_id=account.username,
                    role=account.role,
                    site=account.department.code if account.department else None,
                )
                end_session(
                    engine=self.engine,
                    actor=actor,
                    session_id=user_session.id,
                    reason=reason,
                    now=moment,
                )
            raise NotAuthenticatedError(_ENDED.get(reason, "this session has ended"))
        touch_session(engine=self.engine, user_session=user_session, now=moment)
        return account, user_session.id

    def close(self) -> None:
        """Stop the password pool."""
        self.passwords.close()
