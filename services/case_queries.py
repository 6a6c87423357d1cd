"""Read-side queries the case and worklist routes share: scoping, filtering, urgency order,
and pathologists named by their code (the API's one name for a pathologist).

The scope here is :func:`services.access.may_view_case` as SQL, so a list never shows a case
that opening it would refuse. Lists are paged by cursor (:mod:`services.paging`) in the
orders below.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from services.access import require_clinical
from services.deps import AuthenticatedUser
from services.errors import ResourceNotFoundError
from services.paging import AnySelect, Ordering, SortKey, read_page
from services.schemas.cases import (
    AssignmentPublic,
    AssignmentReceipt,
    CaseBlock,
    CaseDetail,
    CasePublic,
    CaseSlide,
    CaseSpecimen,
    CaseState,
    SlideListing,
)
from services.schemas.common import Page
from services.schemas.consults import (
    ConsultantPublic,
    ConsultItem,
    ConsultKind,
    ConsultRequestItem,
    ConsultStatus,
    RequesterPublic,
)
from services.schemas.worklist import WorklistItem
from worklist.accounts import assignment_gives_access, grant_in_force
from worklist.enums import AssignmentKind, CaseStatus, Priority, Role
from worklist.models import (
    Assignment,
    Block,
    Case,
    CaseGrant,
    Department,
    Pathologist,
    Report,
    Slide,
    Specimen,
    report_status,
)
from worklist.operations import AssignmentReceipt as Receipt
from worklist.operations.review import REVIEW_KINDS
from worklist.snapshots import assignment_minutes, case_minutes
from worklist.workload import WorkloadModel

# Most urgent first: priority, then the earliest due date (the claim order's index).
URGENCY_ORDER = (Case.priority_rank, Case.due_at, Case.id)

_primary = aliased(Assignment, name="primary_assignment")
_primary_pathologist = aliased(Pathologist, name="primary_pathologist")
_held = aliased(Assignment, name="held")

_rank, _due, _case_id = URGENCY_ORDER
_URGENCY_KEYS = (SortKey(_rank, "int"), SortKey(_due, "time"), SortKey(_case_id, "int"))
CASES_IN_ID_ORDER = Ordering("cases", (SortKey(Case.id, "int"),))
CASES_MOST_URGENT_FIRST = Ordering("worklist", _URGENCY_KEYS)
HELD_MOST_URGENT_FIRST = Ordering("worklist.mine", (*_URGENCY_KEYS, SortKey(_held.id, "int")))
SLIDES_IN_CASE_ORDER = Ordering(
    "case.slides",
    (SortKey(Specimen.label, "str"), SortKey(Block.label, "str"), SortKey(Slide.id, "int")),
)


def visible_to(user: AuthenticatedUser, now: datetime | None = None) -> ColumnElement[bool]:
    """A WHERE clause admitting exactly the cases ``user`` may open; 403 for a role that
    sees no clinical content (a list would be empty, but saying so is clearer)."""
    require_clinical(user)
    if user.role in (Role.LAB_MANAGER, Role.ADMIN):
        return true()
    moment = now or datetime.now(UTC)
    clauses: list[ColumnElement[bool]] = [
        Case.id.in_(select(CaseGrant.case_id).where(grant_in_force(user_id=user.id, now=moment)))
    ]
    if user.department_id is not None:
        clauses.append(Case.department_id == user.department_id)
    if user.pathologist_id is not None:
        clauses.append(
            Case.id.in_(
                select(Assignment.case_id).where(
                    assignment_gives_access(pathologist_id=user.pathologist_id)
                )
            )
        )
    return or_(*clauses)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What a case list is narrowed to; None means "any"."""

    statuses: Sequence[CaseStatus] | None = None
    department_code: str | None = None
    priority: Priority | None = None
    unassigned_only: bool = False

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses (the query must join Department and the primary assignment)."""
        found: list[ColumnElement[bool]] = []
        if self.statuses is not None:
            found.append(Case.status.in_(list(self.statuses)))
        if self.department_code is not None:
            found.append(Department.code == self.department_code)
        if self.priority is not None:
            found.append(Case.priority == self.priority)
        if self.unassigned_only:
            found.append(_primary.id.is_(None))
        return found


OPEN_STATUSES = tuple(status for status in CaseStatus if status is not CaseStatus.SIGNED_OUT)


def _case_rows(*leading: Any) -> Select[Any]:
    """Cases with their department's code and their primary pathologist's code (or None)."""
    return (
        select(*leading, Case, Department.code, _primary_pathologist.code)
        .select_from(Case)
        .join(Department, Case.department_id == Department.id)
        .outerjoin(
            _primary,
            and_(
                _primary.case_id == Case.id,
                _primary.active,
                _primary.kind == AssignmentKind.PRIMARY,
            ),
        )
        .outerjoin(_primary_pathologist, _primary_pathologist.id == _primary.pathologist_id)
    )


def case_rows_with_holder() -> Select[Any]:
    """Cases with their department's code and primary pathologist's code (or None); filter
    on :data:`PRIMARY_ASSIGNMENT` and :data:`PRIMARY_PATHOLOGIST`."""
    return _case_rows()


PRIMARY_ASSIGNMENT = _primary
"""The active primary assignment joined into :func:`case_rows_with_holder` (or NULL)."""
PRIMARY_PATHOLOGIST = _primary_pathologist
"""Its pathologist (or NULL)."""


def case_public(case: Case, department_code: str, pathologist_code: str | None) -> CasePublic:
    """A case as lists show it."""
    return CasePublic(
        id=case.id,
        accession_number=case.accession_number,
        case_type=case.case_type,
        department_code=department_code,
        patient_pseudonym=case.patient_pseudonym,
        tumour_group=case.tumour_group,
        category=case.category,
        priority=case.priority,
        status=case.status,
        received_at=case.received_at,
        due_at=case.due_at,
        signed_out_at=case.signed_out_at,
        version=case.version,
        primary_pathologist_code=pathologist_code,
    )


def case_page(
    session: Session,
    *,
    scope: ColumnElement[bool],
    where: CaseFilter,
    limit: int,
    cursor: str | None,
    urgent_first: bool,
) -> Page[CasePublic]:
    """One page of the cases in ``scope`` matching ``where``, most urgent first or by id."""
    return read_page(
        session,
        _case_rows().where(scope, *where.clauses()),
        order=CASES_MOST_URGENT_FIRST if urgent_first else CASES_IN_ID_ORDER,
        limit=limit,
        cursor=cursor,
        item=case_public,
    )


@functools.cache
def _workload() -> WorkloadModel:
    """The workload model the assignment engine counts with (its defaults: worklist.snapshots),
    made once rather than for every worklist item."""
    return WorkloadModel()


def _worklist_item(
    assignment: Assignment, case: Case, code: str, holder: str | None
) -> WorklistItem:
    workload = _workload()
    case_standard_minutes = case_minutes(workload, case.category, case.priority)
    return WorklistItem(
        case=case_public(case, code, holder),
        assignment_id=assignment.id,
        kind=assignment.kind,
        assigned_at=assignment.assigned_at,
        rule=assignment.rule,
        workload_minutes=assignment_minutes(workload, assignment.kind, case_standard_minutes),
    )


def held_by(
    session: Session,
    *,
    pathologist_id: int,
    limit: int,
    cursor: str | None,
    kinds: Collection[AssignmentKind] = (),
) -> Page[WorklistItem]:
    """One page of the cases a pathologist holds (assignments of ``kinds``; none named: any
    kind), most urgent first."""
    rows = (
        _case_rows(_held)
        .join(_held, _held.case_id == Case.id)
        .where(_held.pathologist_id == pathologist_id, _held.active)
    )
    if kinds:
        rows = rows.where(_held.kind.in_(list(kinds)))
    return read_page(
        session,
        rows,
        order=HELD_MOST_URGENT_FIRST,
        limit=limit,
        cursor=cursor,
        item=_worklist_item,
    )


def dzi_url(slide_id: int) -> str:
    """Where OpenSeadragon finds the slide's Deep Zoom descriptor."""
    return f"/slides/{slide_id}.dzi"


def case_detail(session: Session, case_id: int) -> CaseDetail | None:
    """One case with its material and assignments, or None if there is no such case."""
    row = session.execute(
        _case_rows()
        .where(Case.id == case_id)
        .options(
            selectinload(Case.specimens).selectinload(Specimen.blocks).selectinload(Block.slides)
        )
    ).first()
    if row is None:
        return None
    case, department_code, holder = row
    assignments = session.execute(
        select(Assignment, Pathologist.code)
        .join(Pathologist, Pathologist.id == Assignment.pathologist_id)
        .where(Assignment.case_id == case_id)
        .order_by(Assignment.id)
    ).all()
    summary = case_public(case, department_code, holder)
    report = session.scalar(select(Report).where(Report.case_id == case_id))
    return CaseDetail(
        **summary.model_dump(),
        second_read_trigger=case.second_read_trigger,
        updated_at=case.updated_at,
        report_status=report_status(report),
        specimens=[
            CaseSpecimen(
                id=specimen.id,
                label=specimen.label,
                description=specimen.description,
                blocks=[
                    CaseBlock(
                        id=block.id,
                        label=block.label,
                        slides=[
                            CaseSlide(
                                id=slide.id,
                                stain=slide.stain,
                                scanned_at=slide.scanned_at,
                                pyramid_status=slide.pyramid_status,
                                dzi_url=dzi_url(slide.id),
                                withdrawn_at=slide.withdrawn_at,
                                withdrawal_reason=slide.withdrawal_reason,
                            )
                            for slide in block.slides
                        ],
                    )
                    for block in specimen.blocks
                ],
            )
            for specimen in case.specimens
        ],
        assignments=[assignment_public(a, code) for a, code in assignments],
    )


def assignment_public(assignment: Assignment, pathologist_code: str) -> AssignmentPublic:
    """An assignment with its pathologist's code."""
    return AssignmentPublic(
        id=assignment.id,
        case_id=assignment.case_id,
        pathologist_code=pathologist_code,
        kind=assignment.kind,
        active=assignment.active,
        assigned_at=assignment.assigned_at,
        assigned_by=assignment.assigned_by,
        rule=assignment.rule,
        ended_at=assignment.ended_at,
        end_reason=assignment.end_reason,
    )


def _slide_listing(
    slide: Slide, specimen_label: str, block_label: str, signed_out_at: datetime | None
) -> SlideListing:
    return SlideListing(
        id=slide.id,
        specimen_label=specimen_label,
        block_label=block_label,
        stain=slide.stain,
        scanned_at=slide.scanned_at,
        pyramid_status=slide.pyramid_status,
        dzi_url=dzi_url(slide.id),
        withdrawn_at=slide.withdrawn_at,
        withdrawal_reason=slide.withdrawal_reason,
        after_sign_out=scanned_after(slide.scanned_at, signed_out_at),
    )


def scanned_after(scanned_at: datetime | None, signed_out_at: datetime | None) -> bool:
    """Whether a slide scanned at ``scanned_at`` came after its case's sign-out."""
    return scanned_at is not None and signed_out_at is not None and scanned_at > signed_out_at


def case_slides(
    session: Session, case_id: int, *, limit: int, cursor: str | None
) -> Page[SlideListing]:
    """One page of a case's slides, in specimen, block and slide order."""
    rows = (
        select(Slide, Specimen.label, Block.label, Case.signed_out_at)
        .join(Block, Slide.block_id == Block.id)
        .join(Specimen, Block.specimen_id == Specimen.id)
        .join(Case, Case.id == Specimen.case_id)
        .where(Specimen.case_id == case_id)
    )
    return read_page(
        session,
        rows,
        order=SLIDES_IN_CASE_ORDER,
        limit=limit,
        cursor=cursor,
        item=_slide_listing,
    )


def pathologist_id_of(session: Session, pathologist_code: str) -> int:
    """The id of the pathologist the API names ``pathologist_code``; 404 if there is none."""
    found = session.scalar(select(Pathologist.id).where(Pathologist.code == pathologist_code))
    if found is None:
        raise ResourceNotFoundError(f"pathologist {pathologist_code!r} does not exist")
    return found


def pathologist_code_of(session: Session, pathologist_id: int | None) -> str | None:
    """The code of pathologist ``pathologist_id`` (None for None)."""
    if pathologist_id is None:
        return None
    return session.scalar(select(Pathologist.code).where(Pathologist.id == pathologist_id))


def receipt_public(receipt: Receipt) -> AssignmentReceipt:
    """An operation's assignment receipt as the API shows it: the pathologist by code (read in
    the operation's transaction, so showing it costs no query)."""
    return AssignmentReceipt(
        assignment_id=receipt.assignment_id,
        pathologist_code=receipt.pathologist_code,
        kind=receipt.kind,
        rule=receipt.rule,
        case=CaseState.model_validate(receipt.case),
    )


# -- consults and second opinions ---------------------------------------------------------

_read = aliased(Assignment, name="read")
_reader = aliased(Pathologist, name="reader")
_reader_department = aliased(Department, name="reader_department")
_asker = aliased(Pathologist, name="asker")
_READ_COLUMNS = (
    _read,
    _reader.code,
    _reader.name,
    _reader_department.code,
    _asker.code,
    _asker.name,
)
CONSULTS_OLDEST_FIRST = Ordering("case.consults", (SortKey(_read.id, "int"),))
REQUESTS_OLDEST_FIRST = Ordering("worklist.consults", (SortKey(_read.id, "int"),))


def _with_people(query: AnySelect) -> AnySelect:
    """``query`` (with ``_read`` in it) joined to the reader, their department and the
    pathologist who asked, narrowed to consults and second opinions."""
    return (
        query.join(_reader, _reader.id == _read.pathologist_id)
        .join(_reader_department, _reader_department.id == _reader.department_id)
        .outerjoin(_asker, _asker.id == _read.requested_by_id)
        .where(_read.kind.in_(REVIEW_KINDS))
    )


def _consult_fields(
    read: Assignment,
    accession_number: str,
    reader_code: str,
    reader_name: str,
    reader_department: str,
    asker_code: str | None,
    asker_name: str | None,
) -> dict[str, Any]:
    return {
        "assignment_id": read.id,
        "case_id": read.case_id,
        "accession_number": accession_number,
        "kind": ConsultKind(read.kind.value),
        "status": ConsultStatus.OPEN if read.active else ConsultStatus.ANSWERED,
        "question": read.question,
        "answer": read.answer,
        "requested_at": read.assigned_at,
        "answered_at": read.answered_at if read.answered_at is not None else read.ended_at,
        "requested_by": (
            RequesterPublic(pathologist_code=asker_code, name=asker_name or "")
            if asker_code is not None
            else None
        ),
        "consultant": ConsultantPublic(
            pathologist_code=reader_code, name=reader_name, department_code=reader_department
        ),
    }


def consults_of_case(
    session: Session, case_id: int, *, limit: int, cursor: str | None
) -> Page[ConsultItem]:
    """One page of a case's consults and second opinions, open and answered, oldest first."""
    rows = _with_people(
        select(*_READ_COLUMNS, Case.accession_number)
        .select_from(_read)
        .join(Case, Case.id == _read.case_id)
    ).where(_read.case_id == case_id)

    def item(read: Assignment, *people: Any) -> ConsultItem:
        *who, accession_number = people
        return ConsultItem(**_consult_fields(read, accession_number, *who))

    return read_page(
        session, rows, order=CONSULTS_OLDEST_FIRST, limit=limit, cursor=cursor, item=item
    )


def consults_asked_of(
    session: Session, pathologist_id: int, *, limit: int, cursor: str | None
) -> Page[ConsultRequestItem]:
    """One page of the open consults and second opinions asked of a pathologist, oldest
    first, each with its case."""
    rows = _with_people(_case_rows(*_READ_COLUMNS).join(_read, _read.case_id == Case.id)).where(
        _read.pathologist_id == pathologist_id, _read.active
    )

    def item(
        read: Assignment,
        reader_code: str,
        reader_name: str,
        reader_department: str,
        asker_code: str | None,
        asker_name: str | None,
        case: Case,
        department_code: str,
        holder: str | None,
    ) -> ConsultRequestItem:
        fields = _consult_fields(
            read,
            case.accession_number,
            reader_code,
            reader_name,
            reader_department,
            asker_code,
            asker_name,
        )
        return ConsultRequestItem(**fields, case=case_public(case, department_code, holder))

    return read_page(
        session, rows, order=REQUESTS_OLDEST_FIRST, limit=limit, cursor=cursor, item=item
    )
