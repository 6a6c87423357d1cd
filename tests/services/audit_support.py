"""Counting the audit log's records, for the tests of what leaves one."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.services.conftest import ServiceHarness
from worklist.db import read_session
from worklist.enums import AuditOutcome
from worklist.models import AuditEvent


def audit_records(
    service: ServiceHarness,
    event_type: str,
    *,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    slide_id: int | None = None,
) -> int:
    """How many records of ``event_type`` with ``outcome`` the log holds (of ``slide_id`` only,
    when given)."""
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.event_type == event_type, AuditEvent.outcome == outcome)
    )
    if slide_id is not None:
        query = query.where(AuditEvent.slide_id == slide_id)
    with read_session(service.engine) as session:
        return int(session.scalar(query) or 0)


def slide_opens(
    service: ServiceHarness, slide_id: int, outcome: AuditOutcome = AuditOutcome.SUCCESS
) -> int:
    """How many records of opening (or, with another ``outcome``, of trying to open) the slide."""
    return audit_records(service, "slide.open", outcome=outcome, slide_id=slide_id)
