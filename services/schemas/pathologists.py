"""Response bodies of the pathologist routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PathologistPublic(BaseModel):
    """A pathologist as colleagues and lab managers see them (to assign or ask for a consult),
    named by their code everywhere in the API (``pathologist_code``)."""

    code: str
    name: str
    department_code: str
    subspecialties: list[str]
    experienced_in: list[str] = Field(
        description="Subspecialties in which they may be the mandatory second reader."
    )
    fte: float
    working_days: list[str]
    active: bool
