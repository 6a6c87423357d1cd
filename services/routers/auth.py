"""Signing in and out: a bearer token for the API, the same token as a cookie for the viewer."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.deps import SESSION_COOKIE, CurrentUser, SessionDep, StateDep, load_user
from services.errors import NotAuthenticatedError
from services.schemas.auth import LoginRequest, TokenResponse, UserPublic
from services.security import verify_password
from worklist.accounts import find_user_by_username

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenResponse)
def login(
    credentials: LoginRequest, response: Response, state: StateDep, session: SessionDep
) -> TokenResponse:
    """Check the password and start a session (bearer token + HttpOnly cookie)."""
    account = find_user_by_username(session, credentials.username)
    # Same answer for an unknown user and a wrong password: no account enumeration.
    if account is None or not verify_password(account.password_hash, credentials.password):
        raise NotAuthenticatedError("unknown username or wrong password")
    user = load_user(session, account.id)
    assert user is not None
    token = state.tokens.issue(account.id)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.tokens.ttl_s,
        httponly=True,
        samesite="lax",
        secure=False,  # served on loopback in the demo; TLS terminates at the proxy in prod
    )
    return TokenResponse(
        access_token=token,
        expires_in=state.tokens.ttl_s,
        user=UserPublic.model_validate(user, from_attributes=True),
    )


@router.post("/logout", status_code=204)
def logout(response: Response) -> Response:
    """End the viewer's session (drop the cookie)."""
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return response


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    """Who is signed in."""
    return UserPublic.model_validate(user, from_attributes=True)
