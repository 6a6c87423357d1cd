"""A case's history: every assignment, move, consult, report version and sign-out, in order."""

from __future__ import annotations

from fastapi import APIRouter

from services.access import open_case
from services.deps import CurrentUser, SessionDep, StateDep
from services.routers.params import CaseId
from services.schemas.auth import ErrorBody
from services.schemas.history import CaseHistory, HistoryEventPublic
from worklist.history import case_history

router = APIRouter(tags=["cases"])


@router.get(
    "/cases/{case_id}/history",
    response_model=CaseHistory,
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not a case you may see."},
        404: {"model": ErrorBody, "description": "No such case."},
    },
)
def get_case_history(
    case_id: CaseId, user: CurrentUser, session: SessionDep, state: StateDep
) -> CaseHistory:
    """The case's timeline, oldest first: received, every assignment (by rule or by a lab
    manager, with the move's reason), release, consult asked and answered, report version,
    sign-out and addendum. For whoever may open the case; reading it is a case access in
    the audit (once per sign-in session, as opening the case)."""
    access = open_case(session, user, case_id, views=state.views)
    events = case_history(session, case_id)
    state.views.opened(state.engine, user, access)
    return CaseHistory(
        case_id=access.case.id,
        accession_number=access.case.accession_number,
        events=[HistoryEventPublic.model_validate(event) for event in events],
    )
