"""FastAPI dependencies as ``Annotated`` aliases: state, sessions, the signed-in user."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload

from services.errors import AccessDeniedError, NotAuthenticatedError
from services.identity import AuthenticatedUser as AuthenticatedUser
from services.settings import Settings
from services.state import AppState
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import UserAccount

SESSION_COOKIE = "coupe_session"
CSRF_COOKIE = "coupe_csrf"
CSRF_HEADER = "X-CSRF-Token"


def get_state(request: Request) -> AppState:
    """The running app's state (set up by the lifespan)."""
    state: AppState = request.app.state.coupe
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_engine(state: StateDep) -> Engine:
    """The database engine."""
    return state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def get_settings(state: StateDep) -> Settings:
    """The settings the app was created with."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A read session for the request; writes go through ``worklist.operations``."""
    with read_session(state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True)
class Credential:
    """The session token a request carries, and whether it came in the cookie."""

    token: str
    from_cookie: bool


def credential_from_request(request: Request) -> Credential | None:
    """The bearer token of the request, else its session cookie, else None."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return Credential(credentials.strip(), from_cookie=False)
    cookie = request.cookies.get(SESSION_COOKIE)
    return Credential(cookie, from_cookie=True) if cookie else None


PURPOSE_HEADER = "Coupe-Purpose"
"""The web app's prefetch of "Next case" sends ``Coupe-Purpose: prefetch``: the audit then
says the data was fetched ahead, not that the pathologist looked at it."""


def is_prefetch(request: Request) -> bool:
    """Whether ``request`` fetches ahead for "Next case" (the :data:`PURPOSE_HEADER`)."""
    return request.headers.get(PURPOSE_HEADER, "").strip().lower() == "prefetch"


PrefetchDep = Annotated[bool, Depends(is_prefetch)]


def load_user(session: Session, user_id: int) -> AuthenticatedUser | None:
    """The active user with ``user_id``, or None."""
    account = session.scalar(
        select(UserAccount)
        .options(joinedload(UserAccount.department))
        .where(UserAccount.id == user_id, UserAccount.active)
    )
    return None if account is None else AuthenticatedUser.from_account(account)


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_same_site(request: Request, state: AppState, token: str) -> None:
    """Refuse (403) a state-changing request that the session cookie alone authenticates,
    unless it sends the CSRF token back (double submit) and any ``Origin`` is the service's.

    A browser attaches the cookie to a forged cross-site request, but the attacker's page can
    neither read the ``coupe_csrf`` cookie nor make the browser send a foreign ``Origin``.
    """
    origin = request.headers.get("origin")
    if (
        origin is not None
        and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()
    ):
        raise AccessDeniedError("cross-site request refused: its Origin is not this service")
    sent = request.headers.get(CSRF_HEADER, "")
    expected = state.sessions.csrf_token(token)
    if not (
        hmac.compare_digest(sent, expected)
        and hmac.compare_digest(request.cookies.get(CSRF_COOKIE, ""), expected)
    ):
        raise AccessDeniedError(
            f"cross-site request refused: send the {CSRF_COOKIE} cookie's value in the "
            f"{CSRF_HEADER} header (or use a bearer token)"
        )


def get_current_user(request: Request, state: StateDep) -> AuthenticatedUser:
    """The user behind the request's bearer token or session cookie; 401 without one."""
    credential = credential_from_request(request)
    if credential is None:
        raise NotAuthenticatedError("sign in first: no bearer token or session cookie")
    if credential.from_cookie and request.method not in _SAFE_METHODS:
        check_same_site(request, state, credential.token)
    # A connection of its own, given back at once: holding the request's session connection
    # while the route's operation takes another would let concurrent requests exhaust the
    # pool waiting on each other.
    with state.engine.connect() as connection:
        return state.sessions.authenticate(connection, credential.token)


CurrentUser = Annotated[AuthenticatedUser, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[[AuthenticatedUser], AuthenticatedUser]:
    """A dependency that admits only users with one of ``roles``."""

    def check(user: CurrentUser) -> AuthenticatedUser:
        if user.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise AccessDeniedError(f"this needs the role {allowed}; you are {user.role.value}")
        return user

    return check


AdminUser = Annotated[AuthenticatedUser, Depends(require_role(Role.ADMIN))]
ManagerUser = Annotated[AuthenticatedUser, Depends(require_role(Role.LAB_MANAGER, Role.ADMIN))]
