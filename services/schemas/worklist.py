"""Request and response bodies of the worklist and assignment routes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
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


_CONFIRM_OUTSIDE = Field(
    default=False,
    description="Go ahead although the case's tumour group is none of the pathologist's "
    "subspecialties (without it such a move is refused with 409); marked in the audit.",
)


class ClaimRequest(VersionedRequest):
    """Take an unassigned case."""

    confirm_outside_subspecialty: bool = _CONFIRM_OUTSIDE


class AssignRequest(VersionedRequest):
    """Assign a case by hand (lab managers)."""

    pathologist_code: PathologistCode = Field(description="Whom to assign it to, e.g. HMC-01.")
    kind: AssignmentKind = AssignmentKind.PRIMARY
    reason: Annotated[str, text(0, 500)] = Field(
        default="", description="Why (a primary read: shown in the case history)."
    )


class ReassignRequest(VersionedRequest):
    """Move a case's primary assignment to another pathologist (lab managers)."""

    pathologist_code: PathologistCode = Field(description="The new primary pathologist.")
    reason: Annotated[str, text(1, 500)] = Field(
        description="Why it moves (required; shown in the case history)."
    )
    confirm_outside_subspecialty: bool = _CONFIRM_OUTSIDE


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


class QueueSort(StrEnum):
    """The orders of the regional queue (each ends on the case id, so it is total)."""

    URGENCY = "urgency"
    DUE = "due"
    RECEIVED = "received"
    ACCESSION = "accession"
    DEPARTMENT = "department"
    TUMOUR_GROUP = "tumour_group"
    STATUS = "status"
    HOLDER = "holder"


class QueueItem(BaseModel):
    """An open case in the regional queue: who has it, whether it is overdue, and, while
    unassigned, why the last assignment round left it unplaced."""

    case: CasePublic
    overdue: bool = Field(description="Past its due date and not signed out.")
    days_open: int = Field(description="Whole days since the case was received.")
    unplaced_reason: str | None = Field(
        description="Why the latest assignment round left this unassigned case unplaced; "
        "null when it has a pathologist or no round left it unplaced."
    )


class AfterSignOutItem(BaseModel):
    """A slide scanned after its case was signed out, on the worklist of the pathologist who
    signed it out until an addendum is written after it."""

    case_id: int
    accession_number: str
    slide_id: int
    specimen_label: str
    block_label: str
    stain: str
    scanned_at: datetime
    signed_out_at: datetime
