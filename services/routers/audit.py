"""The NEN 7513 audit log, for privacy officers and administrators: ``GET /audit``.

Filtered by patient, case, user, department, time, outcome and event; paged by cursor, oldest
first. Every reading is itself recorded (``audit.read``, naming the filters) before the page
is answered, and so is a refused one. See :mod:`services.audit_queries`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query

from services.audit_queries import (
    AUDIT_READERS,
    READ_EVENT,
    REVIEW_PURPOSE,
    AuditFilter,
    audit_page,
    may_read_audit,
    record_reading,
)
from services.deps import CurrentUser, EngineDep, SessionDep
from services.errors import AccessDeniedError
from services.schemas.audit import AuditQuery, AuditRecord
from services.schemas.auth import ErrorBody
from services.schemas.common import Page
from worklist.enums import AuditOutcome

router = APIRouter(
    prefix="/audit",
    tags=["audit"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Only privacy officers and administrators."},
    },
)


def _filter(query: AuditQuery) -> AuditFilter:
    return AuditFilter(
        patient_pseudonym=query.patient_pseudonym,
        case_id=query.case_id,
        accession_number=query.accession_number,
        user=query.user,
        site=query.site,
        occurred_from=query.occurred_from,
        occurred_to=query.occurred_to,
        outcome=query.outcome,
        event_type=query.event_type,
    )


@router.get("", response_model=Page[AuditRecord])
def read_audit_log(
    query: Annotated[AuditQuery, Query()],
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
) -> Page[AuditRecord]:
    """One page of the audit log, oldest first: send the answer's ``next`` as ``cursor`` for
    the page after, with the same filters. Privacy officers and administrators only; the
    reading, or the refusal, is recorded in the log."""
    where = _filter(query)
    actor = replace(user.actor, purpose_of_use=REVIEW_PURPOSE)
    if not may_read_audit(user.role):
        message = (
            f"reading the audit log needs the role {' or '.join(sorted(AUDIT_READERS))}; "
            f"you are {user.role.value}"
        )
        record_reading(
            engine,
            actor=actor,
            event_type=READ_EVENT,
            outcome=AuditOutcome.SERIOUS_FAILURE,
            detail={"filters": where.as_detail(), "refused": "forbidden", "reason": message},
        )
        raise AccessDeniedError(message)
    page = audit_page(session, where=where, limit=query.limit, cursor=query.cursor)
    record_reading(
        engine,
        actor=actor,
        event_type=READ_EVENT,
        detail={
            "filters": where.as_detail(),
            "records": len(page.items),
            "paged": query.cursor is not None,
        },
    )
    return page
