"""Request and response bodies of a slide's withdrawal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.schemas.common import RequestBody, text
from worklist.operations.withdrawal import MAX_REASON_LENGTH, MIN_REASON_LENGTH


class WithdrawalCreate(RequestBody):
    """Withdraw a broken slide, with the reason a later review reads."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "scan out of focus over the whole tissue"}]}
    )

    reason: Annotated[str, text(MIN_REASON_LENGTH, MAX_REASON_LENGTH, multiline=True)]


class WithdrawalPublic(BaseModel):
    """A slide's withdrawal: when, by whom, why, and the tiling jobs it stopped."""

    model_config = ConfigDict(from_attributes=True)

    slide_id: int
    case_id: int
    withdrawn_at: datetime
    withdrawn_by: str = Field(description="The account name of the lab manager or admin.")
    reason: str
    stopped_job_ids: list[int] = Field(
        description="Tiling jobs of the slide that were queued or running; they failed."
    )
