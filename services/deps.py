"""FastAPI dependencies as ``Annotated`` aliases: state, sessions, the signed-in user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload

from services.errors import AccessDeniedError, NotAuthenticatedError
from services.security import InvalidTokenError
from services.settings import Settings
from services.state import AppState
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import UserAccount

SESSION_COOKIE = "coupe_session"


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
class AuthenticatedUser:
    """The signed-in user, as the routes and the access rules need them."""

    id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    department_code: str | None
    pathologist_id: int | None

    @property
    def actor(self) -> Actor:
        """The audit's "who": this user, at their home site."""
        return Actor(user_id=self.username, role=self.role, site=self.department_code)


def token_from_request(request: Request) -> str | None:
    """The bearer token of the request, else its session cookie, else None."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return request.cookies.get(SESSION_COOKIE)


def load_user(session: Session, user_id: int) -> AuthenticatedUser | None:
    """The active user with ``user_id``, or None."""
    account = session.scalar(
        select(UserAccount)
        .options(joinedload(UserAccount.department))
        .where(UserAccount.id == user_id, UserAccount.active)
    )
    if account is None:
        return None
    return AuthenticatedUser(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        role=account.role,
        department_id=account.department_id,
        department_code=account.department.code if account.department else None,
        pathologist_id=account.pathologist_id,
    )


def get_current_user(request: Request, state: StateDep, session: SessionDep) -> AuthenticatedUser:
    """The user behind the request's bearer token or session cookie; 401 without one."""
    token = token_from_request(request)
    if token is None:
        raise NotAuthenticatedError("sign in first: no bearer token or session cookie")
    try:
        user_id = state.tokens.user_id(token)
    except InvalidTokenError as exc:
        raise NotAuthenticatedError(str(exc)) from exc
    user = load_user(session, user_id)
    if user is None:
        raise NotAuthenticatedError("the account behind this session no longer exists")
    return user


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
