"""Request and response bodies of case waits (pauses of the turnaround clock)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.schemas.common import RequestBody, UtcTime
from worklist.models import WaitReason


class WaitCreate(RequestBody):
    """The case starts waiting on something outside the department: its clock pauses."""

    reason: WaitReason
    started_at: UtcTime | None = Field(
        default=None, description="When the wait began (not in the future); default now."
    )


class WaitEnd(RequestBody):
    """The wait is over: the case's clock runs again."""

    ended_at: UtcTime | None = Field(
        default=None,
        description="When the wait ended (after its start, not in the future); default now.",
    )


class WaitPublic(BaseModel):
    """One wait of a case, open while ``ended_at`` is null, and who recorded it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    reason: WaitReason
    started_at: datetime
    ended_at: datetime | None
    recorded_by: str
