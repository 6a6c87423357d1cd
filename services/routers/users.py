"""User accounts (administrators manage them): list, create, update, end sessions.

Every new password passes the policy first (``hash_new_password``); the rules an account
obeys (names unique whatever their case, a pathologist account at its pathologist's
department, never the ``system`` role) are ``worklist.accounts``'s. Hashing and the writes
run in the bounded password pool, as sign-in does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi import Path as PathParam
from sqlalchemy import ColumnElement, Engine, select, true
from sqlalchemy.orm import aliased

from services.deps import AdminUser, EngineDep, SessionDep, StateDep
from services.errors import ResourceNotFoundError
from services.paging import AnySelect, Ordering, SortKey, read_page
from services.routers.params import Cursor, Limit
from services.schemas.common import DEFAULT_PAGE_LIMIT, MAX_ID, Page
from services.schemas.users import UserAccountPublic, UserCreate, UserUpdate
from services.security import hash_new_password
from worklist.accounts import KEEP, Keep, NewUser, UserChanges, create_user, update_user
from worklist.db import read_session
from worklist.models import Department, Pathologist, UserAccount
from worklist.sessions import end_user_sessions

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The account's id.")]
USERS_BY_ID = Ordering("users", (SortKey(UserAccount.id, "int"),))


def _accounts(where: ColumnElement[bool]) -> AnySelect:
    """The accounts matching ``where``, with their department's and pathologist's codes."""
    department = aliased(Department)
    pathologist = aliased(Pathologist)
    return (
        select(UserAccount, department.code, pathologist.code)
        .outerjoin(department, department.id == UserAccount.department_id)
        .outerjoin(pathologist, pathologist.id == UserAccount.pathologist_id)
        .where(where)
    )


def _account_public(
    account: UserAccount, department_code: str | None, pathologist_code: str | None
) -> UserAccountPublic:
    return UserAccountPublic(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        role=account.role,
        department_code=department_code,
        pathologist_code=pathologist_code,
        active=account.active,
    )


def _account(engine: Engine, user_id: int) -> UserAccountPublic:
    with read_session(engine) as session:  # a fresh session: the request's predates the write
        found = session.execute(_accounts(UserAccount.id == user_id)).first()
    if found is None:
        raise ResourceNotFoundError(f"user {user_id} does not exist")
    return _account_public(*found)


@router.get("", response_model=Page[UserAccountPublic])
def list_users(
    admin: AdminUser,
    session: SessionDep,
    include_disabled: Annotated[
        bool, Query(description="Also list disabled accounts (to re-enable one).")
    ] = False,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[UserAccountPublic]:
    """The active accounts by id (and the disabled ones too with ``include_disabled``)."""
    return read_page(
        session,
        _accounts(true() if include_disabled else UserAccount.active.is_(True)),
        order=USERS_BY_ID,
        limit=limit,
        cursor=cursor,
        item=_account_public,
    )


@router.post("", response_model=UserAccountPublic, status_code=status.HTTP_201_CREATED)
async def add_user(body: UserCreate, admin: AdminUser, state: StateDep) -> UserAccountPublic:
    """Create an account; the password must pass the policy (422 saying why) and is stored as
    an argon2id hash. A name taken in any case, or a pathologist with an account, is 409."""

    def work() -> UserAccountPublic:
        password_hash = hash_new_password(
            state.settings.password_policy,
            body.password,
            user_inputs=(body.username, body.display_name),
        )
        user_id = create_user(
            engine=state.engine,
            actor=admin.actor,
            user=NewUser(
                username=body.username,
                display_name=body.display_name,
                password_hash=password_hash,
                role=body.role,
                department_code=body.department_code,
                pathologist_code=body.pathologist_code,
            ),
        )
        return _account(state.engine, user_id)

    return await state.sessions.passwords.run(work)


@router.patch("/{user_id}", response_model=UserAccountPublic)
async def update_account(
    user_id: UserId, body: UserUpdate, admin: AdminUser, state: StateDep
) -> UserAccountPublic:
    """Change an account: names, role, department, pathologist link, ``active`` (false ends its
    sessions at once; true re-enables it), ``password`` (a reset; ends its sessions). Audited
    as ``user.update``; what a refusal names (409, 422) is left unchanged."""

    def work() -> UserAccountPublic:
        current = _account(state.engine, user_id)
        password_hash: str | Keep = KEEP
        if body.password is not None:
            password_hash = hash_new_password(
                state.settings.password_policy,
                body.password,
                user_inputs=(
                    body.username or current.username,
                    body.display_name or current.display_name,
                ),
            )
        given = body.model_fields_set
        changes = UserChanges(
            username=KEEP if body.username is None else body.username,
            display_name=KEEP if body.display_name is None else body.display_name,
            password_hash=password_hash,
            role=KEEP if body.role is None else body.role,
            department_code=body.department_code if "department_code" in given else KEEP,
            pathologist_code=body.pathologist_code if "pathologist_code" in given else KEEP,
            active=KEEP if body.active is None else body.active,
        )
        update_user(engine=state.engine, actor=admin.actor, user_id=user_id, changes=changes)
        return _account(state.engine, user_id)

    return await state.sessions.passwords.run(work)


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
