"""Request and response bodies of consults, second opinions, grants and break-the-glass."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.schemas.cases import AssignmentReceipt, CasePublic, CaseState
from services.schemas.common import PathologistCode, RecordId, RequestBody, Version, text
from worklist.enums import AssignmentKind, GrantKind


class ConsultKind(StrEnum):
    """What the primary pathologist asks a colleague for."""

    CONSULT = "consult"
    SECOND_OPINION = "second_opinion"

    @property
    def assignment_kind(self) -> AssignmentKind:
        """The assignment the request creates."""
        return AssignmentKind(self.value)


class ConsultStatus(StrEnum):
    """Whether the colleague has answered yet."""

    OPEN = "open"
    ANSWERED = "answered"


class RequesterPublic(BaseModel):
    """The pathologist who asked."""

    pathologist_code: str
    name: str


class ConsultantPublic(RequesterPublic):
    """The colleague asked, and their department."""

    department_code: str


class ConsultItem(BaseModel):
    """A consult or second opinion with its question and, once given, its answer."""

    assignment_id: int
    case_id: int
    accession_number: str
    kind: ConsultKind
    status: ConsultStatus
    question: str | None = Field(
        description="Null for a second read the assignment engine planned (nobody asked)."
    )
    answer: str | None = Field(description="Null while open.")
    requested_at: datetime
    answered_at: datetime | None
    requested_by: RequesterPublic | None = Field(
        description="Null for a second read the assignment engine planned."
    )
    consultant: ConsultantPublic


class ConsultRequestItem(ConsultItem):
    """A consult or second opinion asked of you, with its case."""

    case: CasePublic


class ConsultCreate(RequestBody):
    """Ask a colleague (often at another site) for a consult or a second opinion."""

    pathologist_code: PathologistCode = Field(description="The pathologist asked, e.g. LUMC-02.")
    question: Annotated[str, text(1, 10_000, multiline=True)]
    kind: ConsultKind = ConsultKind.CONSULT
    access_days: int = Field(
        default=14, ge=1, le=90, description="How long the consultant may open the case."
    )
    expected_version: Version | None = None


class ConsultAnswer(RequestBody):
    """The consultant's answer."""

    answer: Annotated[str, text(1, 10_000, multiline=True)]


class GrantPublic(BaseModel):
    """Access to one case outside the user's department, until it expires."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    user_id: int
    kind: GrantKind
    granted_by: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class ConsultPublic(BaseModel):
    """The consult assignment, and the consultant's access grant (null without an account)."""

    assignment: AssignmentReceipt
    grant: GrantPublic | None


class GrantCreate(RequestBody):
    """Let a user open one case outside their department (lab managers)."""

    user_id: RecordId
    valid_for_hours: int = Field(default=24 * 14, ge=1, le=24 * 90)
    reason: Annotated[str, text(0, 500)] = ""


class BreakGlassRequest(RequestBody):
    """Open a case outside your normal access, with a reason that is reviewed."""

    reason: Annotated[str, text(10, 1000, multiline=True)]


class ConsultAnswered(BaseModel):
    """The case after the answer: back in review with the last open consult answered."""

    case: CaseState
