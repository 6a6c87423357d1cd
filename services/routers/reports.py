"""A case's report: read it, save drafts (versions), list the versions, add addenda.

Sign-out is ``POST /cases/{case_id}/sign-out`` (:mod:`services.routers.worklist`). Every read
and write opens the case first (:func:`services.access.open_case`: the department boundary,
grants, an audited 403); reads are audited as opening the case, writes by their operation
(``case.report.save``, ``case.report.addendum``). Only the case's primary pathologist saves
drafts; any pathologist who may open a signed-out case may add an addendum, signed by them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from services.access import open_case
from services.deps import CurrentUser, EngineDep, SessionDep, StateDep
from services.paging import Ordering, SortKey, read_page
from services.routers.params import CaseId, Cursor, Limit
from services.routers.worklist import own_pathologist_id
from services.schemas.auth import ErrorBody
from services.schemas.cases import CaseState
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from services.schemas.reports import (
    AddendumCreate,
    AddendumPublic,
    DiagnosisCodePublic,
    ReportPerson,
    ReportPublic,
    ReportSave,
    ReportVersionPublic,
)
from worklist.db import read_session
from worklist.models import (
    Case,
    Pathologist,
    ReportAddendum,
    ReportStatus,
    ReportVersion,
    UserAccount,
    report_status,
)
from worklist.models import Report as ReportRow
from worklist.operations import CaseState as CaseStateReceipt
from worklist.operations import DiagnosisCode, ReportDraft, add_addendum, save_report
from worklist.operations.reports import current_version, report_of

router = APIRouter(
    prefix="/cases/{case_id}/report",
    tags=["reports"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see or do."},
        404: {"model": ErrorBody, "description": "No such case."},
    },
)

_CONFLICT: dict[int | str, dict[str, object]] = {
    409: {
        "model": ErrorBody,
        "description": "Someone else saved in between (expected_version), the report is signed "
        "out (add an addendum), or the case is not signed out yet (for an addendum).",
    }
}

_saver = aliased(Pathologist, name="saver")
_saver_account = aliased(UserAccount, name="saver_account")
VERSIONS_NEWEST_FIRST = Ordering(
    "case.report.versions", (SortKey(ReportVersion.version, "int", descending=True),)
)


def _person(code: str, name: str, user_id: int | None, display_name: str | None) -> ReportPerson:
    """A pathologist by account and code; their account's display name, else their name."""
    return ReportPerson(user_id=user_id, display_name=display_name or name, pathologist_code=code)


def _people(session: Session, pathologist_ids: Iterable[int | None]) -> dict[int, ReportPerson]:
    wanted = {pid for pid in pathologist_ids if pid is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(Pathologist.id, Pathologist.code, Pathologist.name, UserAccount.id)
        .add_columns(UserAccount.display_name)
        .outerjoin(UserAccount, UserAccount.pathologist_id == Pathologist.id)
        .where(Pathologist.id.in_(wanted))
    ).all()
    return {pid: _person(code, name, uid, display) for pid, code, name, uid, display in rows}


def _codes(stored: list[dict[str, Any]]) -> list[DiagnosisCodePublic]:
    return [DiagnosisCodePublic.model_validate(code) for code in stored]


def report_public(session: Session, case: Case) -> ReportPublic:
    """The case's report as the API shows it ("none" and version 0 before the first save)."""
    state = CaseState.model_validate(CaseStateReceipt.of(case))
    report = report_of(session, case.id)
    text = current_version(session, report) if report is not None else None
    if report is None or text is None:
        return ReportPublic(
            case_id=case.id,
            status=ReportStatus.NONE,
            version=0,
            macroscopy="",
            microscopy="",
            conclusion="",
            diagnosis_codes=[],
            updated_at=None,
            updated_by=None,
            signed_at=None,
            signed_by=None,
            addenda=[],
            case=state,
        )
    addenda = list(
        session.scalars(
            select(ReportAddendum)
            .where(ReportAddendum.report_id == report.id)
            .order_by(ReportAddendum.id)
        )
    )
    people = _people(
        session, [text.saved_by_id, report.signed_by_id, *(a.signed_by_id for a in addenda)]
    )
    return ReportPublic(
        case_id=case.id,
        status=report_status(report),
        version=report.version,
        macroscopy=text.macroscopy,
        microscopy=text.microscopy,
        conclusion=text.conclusion,
        diagnosis_codes=_codes(text.diagnosis_codes),
        updated_at=text.saved_at,
        updated_by=people[text.saved_by_id],
        signed_at=report.signed_at,
        signed_by=people[report.signed_by_id] if report.signed_by_id is not None else None,
        addenda=[_addendum(a, people[a.signed_by_id]) for a in addenda],
        case=state,
    )


def _addendum(addendum: ReportAddendum, signer: ReportPerson) -> AddendumPublic:
    return AddendumPublic(
        id=addendum.id, body=addendum.body, signed_at=addendum.signed_at, signed_by=signer
    )


@router.get("", response_model=ReportPublic)
def get_report(
    case_id: CaseId, user: CurrentUser, session: SessionDep, state: StateDep
) -> ReportPublic:
    """The case's report: the current text, who saved it when, its sign-out and addenda.
    Audited as opening the case."""
    access = open_case(session, user, case_id, views=state.views)
    report = report_public(session, access.case)
    state.views.opened(state.engine, user, access)
    return report


@router.put("", response_model=ReportPublic, responses=_CONFLICT)
def put_report(
    case_id: CaseId, body: ReportSave, user: CurrentUser, session: SessionDep, engine: EngineDep
) -> ReportPublic:
    """Save a draft as the report's next version (the case's primary pathologist). Send the
    version you read as ``expected_version`` (0 before the first save): 409 if someone else
    saved in between. An "assigned" case starts its review."""
    pathologist_id = own_pathologist_id(user)
    access = open_case(session, user, case_id)
    save_report(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        pathologist_id=pathologist_id,
        draft=ReportDraft(
            macroscopy=body.macroscopy,
            microscopy=body.microscopy,
            conclusion=body.conclusion,
            diagnosis_codes=tuple(
                DiagnosisCode(code=c.code, display=c.display, system=c.system)
                for c in body.diagnosis_codes
            ),
        ),
        expected_version=body.expected_version,
    )
    with read_session(engine) as fresh:  # the request's session predates the save
        return report_public(fresh, fresh.get_one(Case, case_id))


def _version_public(
    version: ReportVersion, code: str, name: str, user_id: int | None, display: str | None
) -> ReportVersionPublic:
    return ReportVersionPublic(
        version=version.version,
        macroscopy=version.macroscopy,
        microscopy=version.microscopy,
        conclusion=version.conclusion,
        diagnosis_codes=_codes(version.diagnosis_codes),
        saved_at=version.saved_at,
        saved_by=_person(code, name, user_id, display),
    )


@router.get("/versions", response_model=Page[ReportVersionPublic])
def list_report_versions(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[ReportVersionPublic]:
    """Every saved version of the case's report, newest first. Audited as opening the case."""
    access = open_case(session, user, case_id, views=state.views)
    rows = (
        select(ReportVersion, _saver.code, _saver.name, _saver_account.id)
        .add_columns(_saver_account.display_name)
        .join(ReportRow, ReportRow.id == ReportVersion.report_id)
        .join(_saver, _saver.id == ReportVersion.saved_by_id)
        .outerjoin(_saver_account, _saver_account.pathologist_id == _saver.id)
        .where(ReportRow.case_id == case_id)
    )
    page = read_page(
        session,
        rows,
        order=VERSIONS_NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=_version_public,
    )
    state.views.opened(state.engine, user, access)  # after the read: a bad cursor opened nothing
    return page


@router.post(
    "/addenda",
    response_model=AddendumPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_CONFLICT,
)
def post_addendum(
    case_id: CaseId,
    body: AddendumCreate,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
) -> AddendumPublic:
    """Add an addendum to the signed-out report, signed by you now (a pathologist who may
    open the case; an emergency grant alone lets you read, not sign)."""
    access = open_case(session, user, case_id)
    pathologist_id = own_pathologist_id(user)
    access.require_ordinary("add an addendum to")
    addendum_id = add_addendum(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        pathologist_id=pathologist_id,
        body=body.body,
    )
    with read_session(engine) as fresh:
        addendum = fresh.get_one(ReportAddendum, addendum_id)
        return _addendum(addendum, _people(fresh, [addendum.signed_by_id])[addendum.signed_by_id])
