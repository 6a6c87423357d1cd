"""The regional queue: the region's open cases, filtered and sorted, with who has each,
whether it is overdue and why the last assignment round left it unplaced.

Read only; paged by cursor (:mod:`services.paging`) in the order asked for, each order ending
on the case id so that it is total. Lab managers and admins see the whole region.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session

from services.case_queries import (
    OPEN_STATUSES,
    PRIMARY_ASSIGNMENT,
    PRIMARY_PATHOLOGIST,
    case_public,
    case_rows_with_holder,
)
from services.paging import Ordering, SortKey, read_page
from services.schemas.common import Page
from services.schemas.worklist import QueueItem, QueueSort
from worklist.enums import CaseStatus, Priority
from worklist.models import Case, Department
from worklist.rounds import unplaced_reasons

_SECONDS_PER_DAY = 86_400


def _ordering(sort: QueueSort, descending: bool) -> Ordering:
    """The queue's order for ``sort``: its own key(s), then the due date and the id."""
    holder = func.coalesce(PRIMARY_PATHOLOGIST.code, "")
    leading: dict[QueueSort, tuple[SortKey, ...]] = {
        QueueSort.URGENCY: (SortKey(Case.priority_rank, "int", descending),),
        QueueSort.DUE: (),
        QueueSort.RECEIVED: (SortKey(Case.received_at, "time", descending),),
        QueueSort.ACCESSION: (SortKey(Case.accession_number, "str", descending),),
        QueueSort.DEPARTMENT: (SortKey(Department.code, "str", descending),),
        QueueSort.TUMOUR_GROUP: (SortKey(Case.tumour_group, "str", descending),),
        QueueSort.STATUS: (SortKey(Case.status, "str", descending),),
        QueueSort.HOLDER: (SortKey(holder, "str", descending),),
    }
    keys = (
        *leading[sort],
        SortKey(Case.due_at, "time", descending),
        SortKey(Case.id, "int", descending),
    )
    return Ordering(f"queue.{sort.value}.{'desc' if descending else 'asc'}", keys)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the queue is narrowed to; None (or False) means "any"."""

    department_code: str | None = None
    tumour_group: str | None = None
    priority: Priority | None = None
    status: CaseStatus | None = None
    holder_code: str | None = None
    unassigned_only: bool = False
    overdue_only: bool = False

    def clauses(self, now: datetime) -> list[ColumnElement[bool]]:
        """The WHERE clauses over the queue's rows."""
        statuses = OPEN_STATUSES if self.status is None else (self.status,)
        found: list[ColumnElement[bool]] = [Case.status.in_(list(statuses))]
        if self.department_code is not None:
            found.append(Department.code == self.department_code)
        if self.tumour_group is not None:
            found.append(Case.tumour_group == self.tumour_group)
        if self.priority is not None:
            found.append(Case.priority == self.priority)
        if self.holder_code is not None:
            found.append(PRIMARY_PATHOLOGIST.code == self.holder_code)
        if self.unassigned_only:
            found.append(PRIMARY_ASSIGNMENT.id.is_(None))
        if self.overdue_only:
            found.append(Case.due_at < now)
        return found


def queue_page(
    session: Session,
    *,
    where: QueueFilter,
    sort: QueueSort,
    descending: bool,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> Page[QueueItem]:
    """One page of the region's open cases matching ``where``, in ``sort`` order."""
    moment = now or datetime.now(UTC)
    page = read_page(
        session,
        case_rows_with_holder().where(*where.clauses(moment)),
        order=_ordering(sort, descending),
        limit=limit,
        cursor=cursor,
        item=lambda case, department, holder: _item(case, department, holder, moment),
    )
    waiting = [item.case.id for item in page.items if item.case.primary_pathologist_code is None]
    reasons = unplaced_reasons(session, waiting) if waiting else {}
    for item in page.items:
        item.unplaced_reason = reasons.get(item.case.id)
    return page


def _item(case: Case, department_code: str, holder: str | None, now: datetime) -> QueueItem:
    received = case.received_at
    return QueueItem(
        case=case_public(case, department_code, holder),
        overdue=case.status is not CaseStatus.SIGNED_OUT and case.due_at < now,
        days_open=max(0, int((now - received).total_seconds() // _SECONDS_PER_DAY)),
        unplaced_reason=None,
    )
