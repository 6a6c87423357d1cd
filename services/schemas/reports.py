"""Request and response bodies of a case's report: drafts, versions, sign-out, addenda.

Free text is stored and answered exactly as given (markup included): the pages insert it as
text, never as HTML. The limits are the worklist's (:mod:`worklist.operations.reports`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.schemas.cases import CaseState
from services.schemas.common import MAX_ID, RequestBody, text
from worklist.models import ReportStatus
from worklist.operations.reports import (
    MAX_CODE_CHARS,
    MAX_CODE_DISPLAY_CHARS,
    MAX_DIAGNOSIS_CODES,
    MAX_REPORT_TEXT_CHARS,
)

ReportText = Annotated[str, text(0, MAX_REPORT_TEXT_CHARS, multiline=True)]
ReportVersionNumber = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_ID,
        description="The report version you read (0: no report yet); another answers 409.",
    ),
]


class DiagnosisCodeIn(RequestBody):
    """A coded diagnosis, e.g. PALGA T67000 "colon" or a SNOMED CT concept; stored as given."""

    system: Annotated[str, text(0, MAX_CODE_CHARS)] = ""
    code: Annotated[str, text(1, MAX_CODE_CHARS)]
    display: Annotated[str, text(0, MAX_CODE_DISPLAY_CHARS)]


class DiagnosisCodePublic(BaseModel):
    """A coded diagnosis as it was saved."""

    system: str
    code: str
    display: str


class ReportSave(RequestBody):
    """A draft of the report, saved as its next version (the case's primary pathologist)."""

    macroscopy: ReportText = ""
    microscopy: ReportText = ""
    conclusion: ReportText = ""
    diagnosis_codes: list[DiagnosisCodeIn] = Field(
        default_factory=list, max_length=MAX_DIAGNOSIS_CODES
    )
    expected_version: ReportVersionNumber | None = Field(
        default=None, description="The report version this draft was written from (0: none)."
    )


class AddendumCreate(RequestBody):
    """Text added to a signed-out report, signed by you now."""

    body: Annotated[str, text(1, MAX_REPORT_TEXT_CHARS, multiline=True)]


class ReportPerson(BaseModel):
    """A pathologist who wrote or signed: their account, name and code."""

    user_id: int | None = Field(description="Their account (null for one without an account).")
    display_name: str
    pathologist_code: str


class AddendumPublic(BaseModel):
    """An addendum, signed by its author when it was added."""

    id: int
    body: str
    signed_at: datetime
    signed_by: ReportPerson


class ReportPublic(BaseModel):
    """A case's report: its current text, who saved it last, its sign-out and addenda."""

    case_id: int
    status: ReportStatus = Field(description="none (nothing saved yet), draft or signed.")
    version: int = Field(description="The current version (0: nothing saved yet).")
    macroscopy: str
    microscopy: str
    conclusion: str
    diagnosis_codes: list[DiagnosisCodePublic]
    updated_at: datetime | None
    updated_by: ReportPerson | None
    signed_at: datetime | None
    signed_by: ReportPerson | None
    addenda: list[AddendumPublic]
    case: CaseState = Field(description="The case now: a first save may start its review.")


class ReportVersionPublic(BaseModel):
    """One saved version of a report."""

    version: int
    macroscopy: str
    microscopy: str
    conclusion: str
    diagnosis_codes: list[DiagnosisCodePublic]
    saved_at: datetime
    saved_by: ReportPerson
