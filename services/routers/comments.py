"""Comments on a case (consult questions and answers appear here too)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from services.access import open_case
from services.deps import CurrentUser, EngineDep, SessionDep, StateDep
from services.paging import Ordering, SortKey, read_page
from services.routers.params import CaseId, Cursor, Limit
from services.schemas.auth import ErrorBody
from services.schemas.comments import CommentCreate, CommentPublic
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from worklist.db import read_session
from worklist.models import Comment
from worklist.operations import add_comment

router = APIRouter(
    prefix="/cases/{case_id}/comments",
    tags=["comments"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see."},
        404: {"model": ErrorBody, "description": "No such case."},
    },
)


COMMENTS_OLDEST_FIRST = Ordering("case.comments", (SortKey(Comment.id, "int"),))


@router.get("", response_model=Page[CommentPublic])
def list_comments(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[CommentPublic]:
    """The case's comments, oldest first. Audited as opening the case."""
    access = open_case(session, user, case_id, views=state.views)
    page = read_page(
        session,
        select(Comment).where(Comment.case_id == case_id),
        order=COMMENTS_OLDEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=CommentPublic.model_validate,
    )
    state.views.opened(state.engine, user, access)  # after the read: a bad cursor opened nothing
    return page


@router.post("", response_model=CommentPublic, status_code=status.HTTP_201_CREATED)
def post_comment(
    case_id: CaseId, body: CommentCreate, user: CurrentUser, session: SessionDep, engine: EngineDep
) -> CommentPublic:
    """Add a comment to a case you may see (flagged in the audit when only an emergency
    grant lets you see it)."""
    access = open_case(session, user, case_id)
    comment_id = add_comment(engine=engine, actor=access.actor, case_id=case_id, body=body.body)
    with read_session(engine) as fresh:
        return CommentPublic.model_validate(fresh.get_one(Comment, comment_id))
