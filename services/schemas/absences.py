"""Request and response bodies of a pathologist's absences and roster."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.schemas.common import RequestBody

AbsenceKind = Literal["leave", "sickness", "course", "other"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class AbsenceCreate(RequestBody):
    """A period without diagnostic work, inclusive dates."""

    starts_on: date
    ends_on: date
    kind: AbsenceKind = "leave"


class AbsencePublic(BaseModel):
    """An absence as lab managers (and the pathologist themself) see it."""

    id: int
    pathologist_code: str
    starts_on: date
    ends_on: date
    kind: str = Field(description="leave, sickness, course or other (a region file may say more)")


class AbsenceList(BaseModel):
    """A pathologist's absences by start date, and whether they work on ``on``."""

    pathologist_code: str
    working_days: list[str]
    on: date
    present: bool
    why_absent: str | None = Field(
        description="Why not present on ``on``: not a working day, public holiday: NAME, or "
        "the absence's kind."
    )
    absences: list[AbsencePublic]


class RosterUpdate(RequestBody):
    """The part-time pattern: the weekdays on which the pathologist takes diagnostic work."""

    working_days: list[Weekday] = Field(min_length=1, max_length=7)
