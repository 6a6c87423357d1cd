"""The case history's response body."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from worklist.enums import AssignmentKind
from worklist.history import HistoryKind


class HistoryEventPublic(BaseModel):
    """One moment of a case's history; fields that do not apply are null."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: HistoryKind = Field(
        description="received, assigned, reassigned, released, consult_requested, "
        "consult_answered, report_saved, signed_out or addendum"
    )
    by: str | None = Field(description="Who did it: an account's user id or a pathologist code.")
    pathologist_code: str | None = Field(
        description="Whom it concerns: the new holder, the consultant, the report's author."
    )
    from_pathologist_code: str | None = Field(description="A reassignment's previous holder.")
    assignment_kind: AssignmentKind | None
    rule: str | None = Field(description="The rule that made an assignment (claim, manual, ...).")
    reason: str | None = Field(description="A move's or a release's reason, as given.")
    text: str | None = Field(description="A consult's question or answer.")
    report_version: int | None
    outside_subspecialty: bool = Field(
        description="A move confirmed although the case is outside the new holder's subspecialties."
    )


class CaseHistory(BaseModel):
    """A case's history, oldest first."""

    case_id: int
    accession_number: str
    events: list[HistoryEventPublic]
