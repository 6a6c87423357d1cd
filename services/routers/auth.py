"""Signing in and out: a server-side session named by a bearer token, also set as a cookie.

Sign-in is throttled per account name and per client address (429 with Retry-After), checks
an unknown name against a dummy hash so it costs what a wrong password costs, and hashes in
the bounded password pool: a burst of sign-ins never starves the other requests. Every
sign-in, failed or not, and every sign-out is audited (never the password).

A signed-in user changes their own password with ``POST /auth/password``: the current one is
checked as a sign-in would be (a wrong one is 403 and counts in the same throttle), the new
one must pass the policy, and the user's other sessions end.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from services.case_queries import pathologist_code_of
from services.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AuthenticatedUser,
    CurrentUser,
    SessionDep,
    StateDep,
)
from services.errors import AccessDeniedError, NotAuthenticatedError, TooManyAttemptsError
from services.schemas.auth import LoginRequest, TokenResponse, UserPublic
from services.schemas.users import PasswordChange
from services.security import hash_new_password
from services.state import AppState
from worklist.accounts import change_password, find_user_by_username
from worklist.actor import Actor
from worklist.db import read_session
from worklist.errors import ValidationError
from worklist.models import UserAccount
from worklist.sessions import end_session, record_sign_in_failure, start_session

router = APIRouter(prefix="/auth", tags=["auth"])

# Who records a refused sign-in: there is no signed-in user (the name tried is in the detail).
_SIGN_IN_DESK = Actor.system("coupe-sign-in")


def _user_public(session: Session, user: AuthenticatedUser) -> UserPublic:
    """``user`` as the API shows them: department and pathologist by code."""
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        department_code=user.department_code,
        pathologist_code=pathologist_code_of(session, user.pathologist_id),
    )


def _fresh_user_public(state: AppState, user: AuthenticatedUser) -> UserPublic:
    with read_session(state.engine) as session:
        return _user_public(session, user)


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _look_up(state: AppState, username: str, address: str, now: datetime) -> UserAccount | None:
    """The account signing in; TooManyAttemptsError (audited) while the throttle holds."""
    with read_session(state.engine) as session:
        wait = state.sessions.throttle.retry_after(
            session, username=username, client_address=address, now=now
        )
        account = find_user_by_username(session, username)
        if account is not None:
            _ = account.department  # loaded now, used after the session closes
    if wait is not None:
        _refuse(state, username, address, "throttled", now)
        raise TooManyAttemptsError(
            "too many failed sign-ins for this account or address; try again later",
            retry_after_s=max(1, math.ceil(wait.total_seconds())),
        )
    return account


def _refuse(state: AppState, username: str, address: str, reason: str, now: datetime) -> None:
    state.metrics.count_sign_in_failure(reason)
    record_sign_in_failure(
        engine=state.engine,
        actor=_SIGN_IN_DESK,
        username=username,
        client_address=address,
        reason=reason,
        window=state.sessions.throttle.window,
        now=now,
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    responses={429: {"description": "Too many failed sign-ins: wait Retry-After seconds."}},
)
async def login(
    credentials: LoginRequest, request: Request, response: Response, state: StateDep
) -> TokenResponse:
    """Check the password and start a session (bearer token + HttpOnly cookie + CSRF cookie)."""
    now = datetime.now(UTC)
    address = _client_address(request)
    pool = state.sessions.passwords  # every step of a sign-in: bounded, so others go on
    account = await pool.run(lambda: _look_up(state, credentials.username, address, now))
    stored = account.password_hash if account is not None else None
    matched = await state.sessions.passwords.verify(stored, credentials.password)
    if account is None or not matched:
        reason = "unknown_user" if account is None else "wrong_password"
        await pool.run(lambda: _refuse(state, credentials.username, address, reason, now))
        # Same answer for an unknown user and a wrong password: no account enumeration.
        raise NotAuthenticatedError("unknown username or wrong password")
    user = AuthenticatedUser.from_account(account)
    token, _ = await pool.run(
        lambda: start_session(engine=state.engine, actor=user.actor, user_id=account.id)
    )
    shown = await pool.run(lambda: _fresh_user_public(state, user))
    secure = state.settings.behind_tls
    lifetime_s = state.sessions.lifetime_s
    response.set_cookie(
        SESSION_COOKIE, token, max_age=lifetime_s, httponly=True, samesite="lax", secure=secure
    )
    # Readable by the viewer's own scripts, which send it back as X-CSRF-Token.
    response.set_cookie(
        CSRF_COOKIE,
        state.sessions.csrf_token(token),
        max_age=lifetime_s,
        httponly=False,
        samesite="strict",
        secure=secure,
    )
    return TokenResponse(access_token=token, expires_in=lifetime_s, user=shown)


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, state: StateDep, response: Response) -> Response:
    """End the session (its token gets 401 from now on) and drop the cookies."""
    assert user.session_id is not None
    end_session(engine=state.engine, actor=user.actor, session_id=user.session_id)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    response.status_code = 204
    return response


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser, session: SessionDep) -> UserPublic:
    """Who is signed in."""
    return _user_public(session, user)


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        403: {"description": "The current password is wrong (counts as a failed sign-in)."},
        422: {"description": "The new password is refused by the policy; the detail says why."},
        429: {"description": "Too many failed sign-ins: wait Retry-After seconds."},
    },
)
async def change_own_password(
    body: PasswordChange, user: CurrentUser, request: Request, state: StateDep
) -> Response:
    """Change your own password: the current one, and a new one the policy accepts. Your other
    sessions end; this one goes on. Audited as ``user.password_change`` (never a password)."""
    now = datetime.now(UTC)
    address = _client_address(request)
    pool = state.sessions.passwords
    names = (user.username, user.display_name)
    account = await pool.run(lambda: _look_up(state, user.username, address, now))
    stored = account.password_hash if account is not None else None
    if not await pool.verify(stored, body.current_password):
        await pool.run(
            lambda: _refuse(state, user.username, address, "wrong_current_password", now)
        )
        raise AccessDeniedError("the current password is wrong")
    if body.new_password == body.current_password:
        raise ValidationError("the new password must differ from the current one")
    password_hash = await pool.run(
        lambda: hash_new_password(
            state.settings.password_policy, body.new_password, user_inputs=names
        )
    )
    await pool.run(
        lambda: change_password(
            engine=state.engine,
            actor=user.actor,
            user_id=user.id,
            password_hash=password_hash,
            keep_session_id=user.session_id,
            now=now,
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
