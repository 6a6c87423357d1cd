"""Request and response bodies of the worklist and assignment routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.schemas.cases import AssignmentReceipt, CasePublic
from services.schemas.common import MAX_ID, PathologistCode, RequestBody, Version, text
from worklist.enums import AssignmentKind


class VersionedRequest(RequestBody):
    """A change to a case, optionally only if nobody changed the case since you read it."""

    expected_version: Version | None = None


class ReleaseRequest(VersionedRequest):
    """Give a case back to the unassigned pool."""

    reason: Annotated[str, text(0, 500)] = ""


class AssignRequest(VersionedRequest):
    """Assign a case by hand (lab managers)."""

    pathologist_code: PathologistCode = Field(description="Whom to assign it to, e.g. HMC-01.")
    kind: AssignmentKind = AssignmentKind.PRIMARY


class ReassignRequest(VersionedRequest):
    """Move a case's primary assignment to another pathologist (lab managers)."""

    pathologist_code: PathologistCode = Field(description="The new primary pathologist.")
    reason: Annotated[str, text(1, 500)]


class ClaimNextRequest(RequestBody):
    """Take the most urgent unassigned case."""

    own_subspecialties_only: bool = True


class ClaimNextResult(BaseModel):
    """The case taken, or null with the reason nothing was given."""

    assignment: AssignmentReceipt | None
    reason: str | None = Field(
        description="Why nothing was given (null when a case was): no pathologist linked to "
        "the account, nothing waiting in your subspecialties, ..."
    )


class SignOutRequest(VersionedRequest):
    """Sign a case out, optionally only if neither the case nor its report changed since."""

    expected_report_version: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="The report version you read; 409 if stale."
    )


class WorklistItem(BaseModel):
    """A case on your own worklist and why it is there."""

    case: CasePublic
    assignment_id: int
    kind: AssignmentKind = Field(description="primary, second_opinion or consult")
    assigned_at: datetime
    rule: str
    workload_minutes: float = Field(
        description="NVVP standard minutes this assignment costs its holder (a second read or "
        "consult: the second-opinion share)"
    )
