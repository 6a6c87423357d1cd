"""Sign-in sessions on the server, and the throttle on failed sign-ins.

A session token is a random string handed to the client; the database keeps only its sha256,
so a copy of the database opens no session. A session ends at sign-out, when an administrator
ends a user's sessions, or when it is presented after its idle timeout or its absolute
lifetime. Failed sign-ins are rows of their own, so that every server process counts the same
failures: after too many per account name or per client address within the window, sign-in
is refused until the oldest of them leaves it. Every step leaves an audit record.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, AuditOutcome
from worklist.models import SignInFailure, UserSession
from worklist.operations._common import utc_now

SIGN_IN_EVENT = "auth.sign_in"
SIGN_OUT_EVENT = "auth.sign_out"
EXPIRE_EVENT = "auth.session_expire"
END_SESSIONS_EVENT = "auth.sessions_end"

# last_seen_at is written at most this often per session: a viewer fetching tiles must not
# take the database's write lock on every request. The idle timeout is this much coarse.
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_token(token: str) -> str:
    """What the database keeps of a session token: its sha256 (hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionTimes(Protocol):
    """What decides whether a session is over: a :class:`UserSession`, or a row of its
    columns read by a query of its own (the per-tile check reads no ORM objects)."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def end_reason(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session may stay unused (``idle``) and live at all (``lifetime``)."""

    idle: timedelta
    lifetime: timedelta

    def end_reason(self, user_session: SessionTimes, now: datetime) -> str | None:
        """Why ``user_session`` is over at ``now`` ("signed_out", "idle", ...), else None."""
        if user_session.ended_at is not None:
            return user_session.end_reason or "ended"
        if now - user_session.created_at >= self.lifetime:
            return "lifetime"
        if now - user_session.last_seen_at >= self.idle:
            return "idle"
        return None


def start_session(
    *, engine: Engine, actor: Actor, user_id: int, audited: bool = True, now: datetime | None = None
) -> tuple[str, int]:
    """A new session for ``user_id``: ``(token, session id)``; audited as a sign-in."""
    token = secrets.token_urlsafe(32)
    moment = utc_now(now)

    def work(session: Session) -> int:
        row = UserSession(
            token_hash=hash_token(token), user_id=user_id, created_at=moment, last_seen_at=moment
        )
        session.add(row)
        session.flush()
        if audited:
            record_event(
                session,
                actor=actor,
                event_type=SIGN_IN_EVENT,
                action=AuditAction.EXECUTE,
                detail={"session": row.id},
                now=moment,
            )
        return row.id

    return token, run_in_transaction(engine, work)


def find_session(session: Session, token: str) -> UserSession | None:
    """The session ``token`` names (ended or not), or None."""
    return session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))


def touch_session(
    *, engine: Engine, session_id: int, last_seen_at: datetime, now: datetime
) -> None:
    """Note that session ``session_id``, last seen at ``last_seen_at``, was used at ``now``
    (written at most once per ``TOUCH_INTERVAL``)."""
    if now - last_seen_at < TOUCH_INTERVAL:
        return

    def work(session: Session) -> None:
        session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
            .values(last_seen_at=now)
        )

    run_in_transaction(engine, work)


def _end(
    session: Session,
    *,
    reason: str,
    now: datetime,
    session_id: int | None,
    user_id: int | None,
    keep_session_id: int | None = None,
) -> int:
    """End the open sessions matched (but ``keep_session_id``); how many there were."""
    query = update(UserSession).where(UserSession.ended_at.is_(None))
    if session_id is not None:
        query = query.where(UserSession.id == session_id)
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    if keep_session_id is not None:
        query = query.where(UserSession.id != keep_session_id)
    result = session.execute(query.values(ended_at=now, end_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_session(
    *,
    engine: Engine,
    actor: Actor,
    session_id: int,
    reason: str = "signed_out",
    now: datetime | None = None,
) -> bool:
    """End one session: a sign-out, or (``reason`` "idle"/"lifetime") its expiry.

    Audited once, by whichever request ended it; False when it had ended already.
    """
    moment = utc_now(now)
    event_type = SIGN_OUT_EVENT if reason == "signed_out" else EXPIRE_EVENT

    def work(session: Session) -> bool:
        if not _end(session, reason=reason, now=moment, session_id=session_id, user_id=None):
            return False
        record_event(
            session,
            actor=actor,
            event_type=event_type,
            action=AuditAction.EXECUTE,
            detail={"session": session_id, "reason": reason},
            now=moment,
        )
        return True

    return run_in_transaction(engine, work)


def end_user_sessions(
    *,
    engine: Engine,
    actor: Actor,
    user_id: int,
    reason: str = "ended_by_admin",
    keep_session_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """End every open session of ``user_id`` (an administrator's order, the account disabled,
    or the password changed in ``keep_session_id``, which goes on); how many were open.
    Audited, naming the user and the count."""
    moment = utc_now(now)

    def work(session: Session) -> int:
        ended = _end(
            session,
            reason=reason,
            now=moment,
            session_id=None,
            user_id=user_id,
            keep_session_id=keep_session_id,
        )
        record_event(
            session,
            actor=actor,
            event_type=END_SESSIONS_EVENT,
            action=AuditAction.EXECUTE,
            detail={"user": user_id, "sessions": ended, "reason": reason},
            now=moment,
        )
        return ended

    return run_in_transaction(engine, work)


@dataclass(frozen=True, slots=True)
class SignInThrottle:
    """At most ``per_account`` failures per account name, ``per_address`` per client
    address, within ``window``; beyond that sign-in waits until the oldest leaves it."""

    per_account: int
    per_address: int
    window: timedelta

    def retry_after(
        self, session: Session, *, username: str, client_address: str, now: datetime
    ) -> timedelta | None:
        """How long sign-in for ``username`` from ``client_address`` must wait, or None."""
        since = now - self.window
        waits = []
        for column, key, limit in (
            (SignInFailure.username, username.casefold(), self.per_account),
            (SignInFailure.client_address, client_address, self.per_address),
        ):
            recent = (
                select(SignInFailure.occurred_at)
                .where(column == key, SignInFailure.occurred_at > since)
                .order_by(SignInFailure.occurred_at.desc())
                .limit(limit)
                .subquery()
            )
            count, oldest = session.execute(
                select(func.count(), func.min(recent.c.occurred_at)).select_from(recent)
            ).one()
            if count >= limit and oldest is not None:
                # The limit-th most recent failure leaves the window first.
                waits.append(_aware(oldest) + self.window - now)
        return max(waits) if waits else None


def _aware(moment: datetime) -> datetime:
    # An aggregate over a UTCDateTime column comes back as the database's raw value.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def record_sign_in_failure(
    *,
    engine: Engine,
    actor: Actor,
    username: str,
    client_address: str,
    reason: str,
    window: timedelta,
    now: datetime | None = None,
) -> None:
    """Count a failed sign-in and audit it (the attempted name and why, never the password).

    ``reason``: "unknown_user", "wrong_password" or "throttled"; throttled attempts are
    audited but not counted, so waiting out the window is enough. Failures older than
    ``window`` are dropped on the way.
    """
    moment = utc_now(now)

    def work(session: Session) -> None:
        if reason != "throttled":
            session.execute(
                delete(SignInFailure).where(SignInFailure.occurred_at <= moment - window)
            )
            session.add(
                SignInFailure(
                    occurred_at=moment,
                    username=username.casefold()[:64],
                    client_address=client_address[:64],
                )
            )
        record_event(
            session,
            actor=actor,
            event_type=SIGN_IN_EVENT,
            action=AuditAction.EXECUTE,
            outcome=AuditOutcome.MINOR_FAILURE,
            detail={"username": username, "client": client_address, "reason": reason},
            now=moment,
        )

    run_in_transaction(engine, work)
