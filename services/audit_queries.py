"""Reading the NEN 7513 audit log: who may, the filters, pages by cursor, and the record that
every reading leaves in the log itself.

Privacy officers and administrators read the log (``GET /audit``); anyone else is refused and
the attempt recorded. The command line reads it as the platform, on behalf of whoever runs it
(``coupe audit export``). Each reading is one record (``audit.read``, ``audit.export``) naming
the filters, written before the records are shown: the log is patient data too.

Records are read through the columns every revision of the log keeps, in the order
``(occurred_at, event_id)``. A page's cursor names its last record (:mod:`services.paging`),
so the next page starts right after it, however many records were added meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, or_, select
from sqlalchemy.orm import Session

from services.paging import Ordering, SortKey, read_page
from services.schemas.audit import AuditRecord
from services.schemas.common import Page
from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, AuditOutcome, Role
from worklist.models import AuditEvent

AUDIT_READERS = frozenset({Role.PRIVACY_OFFICER, Role.ADMIN})
"""Who may read the audit log over the API; a privacy officer sees nothing else."""
READ_EVENT = "audit.read"
"""The record of one page of the log read (or refused)."""
EXPORT_EVENT = "audit.export"
"""The record of one export (a patient's accesses, as a file)."""
REVIEW_PURPOSE = "quality"
"""The purpose of use recorded for reading the log: oversight, not care."""


def may_read_audit(role: Role) -> bool:
    """Whether an account with ``role`` may read the audit log."""
    return role in AUDIT_READERS


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What a reading of the log is narrowed to; None means "any". All given ones must hold.

    Named as the record fields they match. ``user`` matches the acting account or the person
    it acted for (a command run on someone's behalf); ``occurred_from`` is inclusive,
    ``occurred_to`` exclusive.
    """

    patient_pseudonym: str | None = None
    case_id: int | None = None
    accession_number: str | None = None
    user: str | None = None
    site: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    outcome: AuditOutcome | None = None
    event_type: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses on ``audit_event``."""
        found: list[ColumnElement[bool]] = []
        if self.patient_pseudonym is not None:
            found.append(AuditEvent.patient_pseudonym == self.patient_pseudonym)
        if self.case_id is not None:
            found.append(AuditEvent.case_id == self.case_id)
        if self.accession_number is not None:
            found.append(AuditEvent.accession_number == self.accession_number)
        if self.user is not None:
            found.append(or_(AuditEvent.user_id == self.user, AuditEvent.on_behalf_of == self.user))
        if self.site is not None:
            found.append(AuditEvent.site == self.site)
        if self.occurred_from is not None:
            found.append(AuditEvent.occurred_at >= self.occurred_from)
        if self.occurred_to is not None:
            found.append(AuditEvent.occurred_at < self.occurred_to)
        if self.outcome is not None:
            found.append(AuditEvent.outcome == self.outcome)
        if self.event_type is not None:
            found.append(AuditEvent.event_type == self.event_type)
        return found

    def as_detail(self) -> dict[str, Any]:
        """The filters given, as JSON values: what the reading's own record names."""
        detail: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat()
            elif isinstance(value, AuditOutcome):
                value = value.value
            if value is not None:
                detail[item.name] = value
        return detail


# The columns every revision of the log keeps (the chain columns may change), and the hash
# whose presence says the record is sealed into the chain.
_COLUMNS: tuple[Any, ...] = (
    AuditEvent.occurred_at,
    AuditEvent.event_id,
    AuditEvent.event_type,
    AuditEvent.action,
    AuditEvent.outcome,
    AuditEvent.user_id,
    AuditEvent.role,
    AuditEvent.on_behalf_of,
    AuditEvent.purpose_of_use,
    AuditEvent.site,
    AuditEvent.patient_pseudonym,
    AuditEvent.case_id,
    AuditEvent.accession_number,
    AuditEvent.slide_id,
    AuditEvent.break_glass,
    AuditEvent.detail,
    AuditEvent.record_hash,
)


_NAMES = tuple(column.key for column in _COLUMNS)

AUDIT_ORDER = Ordering(
    "audit", (SortKey(AuditEvent.occurred_at, "time"), SortKey(AuditEvent.event_id, "str"))
)
"""The log's reading order, oldest first; a page's cursor names its last record."""


def _query(where: AuditFilter) -> Select[Any]:
    return select(*_COLUMNS).where(*where.clauses())


def parse_detail(text: str | None) -> dict[str, Any]:
    """A record's detail as an object; text that is not a JSON object is kept, not lost."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"unparsed": text}
    return value if isinstance(value, dict) else {"value": value}


def _record(row: Mapping[Any, Any]) -> AuditRecord:
    return AuditRecord(
        occurred_at=row["occurred_at"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        action=AuditAction(row["action"]),
        outcome=AuditOutcome(row["outcome"]),
        user=row["user_id"],
        role=row["role"],
        on_behalf_of=row["on_behalf_of"],
        purpose_of_use=row["purpose_of_use"],
        site=row["site"],
        patient_pseudonym=row["patient_pseudonym"],
        case_id=row["case_id"],
        accession_number=row["accession_number"],
        slide_id=row["slide_id"],
        break_glass=bool(row["break_glass"]),
        detail=parse_detail(row["detail"]),
        sealed=row["record_hash"] is not None,
    )


def _record_of(*columns: Any) -> AuditRecord:
    return _record(dict(zip(_NAMES, columns, strict=True)))


def audit_page(
    session: Session, *, where: AuditFilter, limit: int, cursor: str | None = None
) -> Page[AuditRecord]:
    """Up to ``limit`` records matching ``where`` after ``cursor``, oldest first, with the
    cursor of the next page (None when this is the last). No total: counting the log on
    every page is not cheap, and the count grows as it is read."""
    return read_page(
        session,
        _query(where),
        order=AUDIT_ORDER,
        limit=limit,
        cursor=cursor,
        item=_record_of,
        counted=False,
    )


def audit_events(
    session: Session, *, where: AuditFilter, batch_size: int = 1000
) -> Iterator[AuditRecord]:
    """Every record matching ``where``, oldest first, fetched ``batch_size`` at a time."""
    query = _query(where).order_by(*AUDIT_ORDER.order_by())
    rows = session.execute(query.execution_options(yield_per=batch_size))
    for row in rows:
        yield _record(row._mapping)


def record_reading(
    engine: Engine,
    *,
    actor: Actor,
    event_type: str,
    detail: Mapping[str, Any],
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
) -> None:
    """Write the record of one reading of the log (or of a refused one), in its own
    transaction; raises if it cannot be written, so nothing is shown unaudited."""

    def work(session: Session) -> None:
        record_event(
            session,
            actor=actor,
            event_type=event_type,
            action=AuditAction.READ,
            outcome=outcome,
            detail=detail,
        )

    run_in_transaction(engine, work)
