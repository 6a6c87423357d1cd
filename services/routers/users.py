"""User accounts (administrators manage them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from fastapi import Path as PathParam
from sqlalchemy import select

from services.deps import AdminUser, EngineDep, SessionDep, load_user
from services.errors import ResourceNotFoundError
from services.schemas.auth import UserCreate, UserPublic
from services.security import hash_password
from worklist.accounts import NewUser, create_user
from worklist.db import read_session
from worklist.models import UserAccount
from worklist.sessions import end_user_sessions

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(admin: AdminUser, session: SessionDep) -> list[UserPublic]:
    """Every active account."""
    ids = session.scalars(select(UserAccount.id).where(UserAccount.active).order_by("id"))
    users = [load_user(session, user_id) for user_id in ids]
    return [UserPublic.model_validate(u, from_attributes=True) for u in users if u is not None]


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def add_user(body: UserCreate, admin: AdminUser, engine: EngineDep) -> UserPublic:
    """Create an account; the password is stored as an argon2id hash."""
    user_id = create_user(
        engine=engine,
        actor=admin.actor,
        user=NewUser(
            username=body.username,
            display_name=body.display_name,
            password_hash=hash_password(body.password),
            role=body.role,
            department_code=body.department_code,
            pathologist_code=body.pathologist_code,
        ),
    )
    with read_session(engine) as fresh:  # the request's session predates the new row
        created = load_user(fresh, user_id)
    assert created is not None
    return UserPublic.model_validate(created, from_attributes=True)


UserId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The account's id.")]


@router.delete("/{user_id}/sessions", status_code=status.HTTP_204_NO_CONTENT)
def end_sessions(
    user_id: UserId, admin: AdminUser, session: SessionDep, engine: EngineDep
) -> Response:
    """End every session of an account (a lost laptop, a leaver): its tokens get 401 on their
    next request, tiles included. Audited."""
    if session.get(UserAccount, user_id) is None:
        raise ResourceNotFoundError(f"user {user_id} does not exist")
    end_user_sessions(engine=engine, actor=admin.actor, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
