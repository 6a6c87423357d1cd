"""The audit log as readers see it: the query of ``GET /audit`` and one record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.schemas.common import (
    CURSOR_MAX_LENGTH,
    CURSOR_PATTERN,
    MAX_ID,
    AccessionNumber,
    DepartmentCode,
    UtcTime,
    text,
)
from worklist.enums import AuditAction, AuditOutcome

DEFAULT_PAGE_ITEMS = 100
MAX_PAGE_ITEMS = 1000

EventType = Annotated[
    str,
    Field(
        max_length=64,
        pattern=r"^[a-z][a-z0-9_.-]*$",
        description="An event name such as case.open, slide.open, case.claim, auth.sign_in.",
    ),
]


class AuditQuery(BaseModel):
    """The filters of ``GET /audit`` (all optional; every one given must hold) and the page.

    The filters are named as the record fields they match; ``from`` and ``to`` bound
    ``occurred_at`` (``from`` included, ``to`` not). A parameter not listed here is refused.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    patient_pseudonym: Annotated[str, text(1, 64)] | None = None
    case_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    accession_number: AccessionNumber | None = None
    user: Annotated[str, text(1, 64)] | None = Field(
        None, description="The account that acted, or the person it acted for."
    )
    site: DepartmentCode | None = Field(None, description="The department the actor acted at.")
    occurred_from: UtcTime | None = Field(
        None, alias="from", description="From this time on (with its UTC offset)."
    )
    occurred_to: UtcTime | None = Field(
        None, alias="to", description="Before this time (with its UTC offset)."
    )
    outcome: AuditOutcome | None = None
    event_type: EventType | None = None
    limit: int = Field(
        DEFAULT_PAGE_ITEMS,
        ge=1,
        le=MAX_PAGE_ITEMS,
        description=f"Records per page: 1 to {MAX_PAGE_ITEMS}, default {DEFAULT_PAGE_ITEMS}.",
    )
    cursor: Annotated[str, Field(max_length=CURSOR_MAX_LENGTH, pattern=CURSOR_PATTERN)] | None = (
        Field(
            None,
            description="The `next` of the page before (opaque); leave it out for the first "
            "page. A cursor this service did not give out is refused (422).",
        )
    )


class AuditRecord(BaseModel):
    """One audit record: who did what, when, where, why, to which patient's data, and how it
    ended; ``detail`` is the event's own information (a refusal's reason, a move's target)."""

    occurred_at: datetime
    event_id: str
    event_type: str
    action: AuditAction
    outcome: AuditOutcome
    user: str = Field(description="The account that acted (or the platform component).")
    role: str
    on_behalf_of: str | None = Field(description="The person a platform component acted for.")
    purpose_of_use: str = Field(description="treatment, operations, quality, emergency, ...")
    site: str | None = Field(description="The department code the actor acted at.")
    patient_pseudonym: str | None
    case_id: int | None
    accession_number: str | None
    slide_id: int | None
    break_glass: bool = Field(description="An emergency access outside the usual rights.")
    detail: dict[str, Any]
    sealed: bool = Field(
        description="Chained into the tamper-evident log already; a record of the last moments "
        "may still wait for the sealer."
    )
