"""Request and response bodies of the case routes: intake, listing, one case in full."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.schemas.common import (
    AccessionNumber,
    DepartmentCode,
    RequestBody,
    UtcTime,
    text,
)
from worklist.enums import AssignmentKind, CaseStatus, CaseType, Priority, PyramidStatus
from worklist.models.report import ReportStatus

Stain = Annotated[str, text(1, 64)]
Name64 = Annotated[str, text(1, 64)]
SpecimenLabel = Annotated[str, Field(pattern=r"^[A-Z]{1,2}$", description="A, B, ... AA")]
BlockLabel = Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9]{1,3}$", description="A1, B12")]


def _refuse_repeats(labels: Iterable[str], what: str) -> None:
    repeated = sorted(label for label, n in Counter(labels).items() if n > 1)
    if repeated:
        raise ValueError(f"{what} label {repeated[0]!r} appears more than once")


class SlideCreate(RequestBody):
    """A glass slide of a block; its image arrives later (upload or scanner import)."""

    stain: Stain = "H&E"


class BlockCreate(RequestBody):
    """A block and its slides."""

    label: BlockLabel
    slides: list[SlideCreate] = Field(
        default_factory=lambda: [SlideCreate()], min_length=1, max_length=50
    )


class SpecimenCreate(RequestBody):
    """A specimen and its blocks."""

    label: SpecimenLabel
    description: Annotated[str, text(0, 200)] = ""
    blocks: list[BlockCreate] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _unique_blocks(self) -> SpecimenCreate:
        _refuse_repeats((block.label for block in self.blocks), f"specimen {self.label}: block")
        return self


class CaseCreate(RequestBody):
    """A case as the front office registers it (lab managers)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "department_code": "LUMC",
                    "patient_pseudonym": "PSN-8F2C1",
                    "tumour_group": "gastro-intestinal",
                    "category": 2,
                    "priority": "cancer_pathway",
                    "specimens": [{"label": "A", "blocks": [{"label": "A1"}]}],
                }
            ]
        }
    )

    department_code: DepartmentCode = Field(description="The originating department's code.")
    patient_pseudonym: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Pseudonymised patient id (never a BSN).",
    )
    tumour_group: Name64
    category: int = Field(ge=1, le=6, description="NVVP complexity category 1-6.")
    priority: Priority = Priority.ROUTINE
    case_type: CaseType = CaseType.HISTOLOGY
    received_at: UtcTime | None = None
    due_at: UtcTime | None = Field(
        default=None, description="Default: from the priority's turnaround target."
    )
    second_read_trigger: Name64 | None = None
    accession_number: AccessionNumber | None = Field(
        default=None, description="Default: the next number of the department's counter."
    )
    specimens: list[SpecimenCreate] = Field(default_factory=list, max_length=52)

    @model_validator(mode="after")
    def _unique_specimens(self) -> CaseCreate:
        _refuse_repeats((specimen.label for specimen in self.specimens), "specimen")
        return self


class CaseState(BaseModel):
    """A case's status and version after a change (send the version back as expected_version)."""

    model_config = ConfigDict(from_attributes=True)

    case_id: int
    accession_number: str
    status: CaseStatus
    version: int


class AssignmentReceipt(BaseModel):
    """An assignment just made, and the case's state after it."""

    assignment_id: int
    pathologist_code: str
    kind: AssignmentKind
    rule: str
    case: CaseState


class CasePublic(BaseModel):
    """A case as lists show it."""

    id: int
    accession_number: str
    case_type: CaseType
    department_code: str
    patient_pseudonym: str
    tumour_group: str
    category: int
    priority: Priority
    status: CaseStatus
    received_at: datetime
    due_at: datetime
    signed_out_at: datetime | None
    version: int
    primary_pathologist_code: str | None = Field(
        description="Who holds the case as primary pathologist; null while unassigned."
    )


class CaseSlide(BaseModel):
    """A slide within its block."""

    id: int
    stain: str
    scanned_at: datetime | None
    pyramid_status: PyramidStatus
    dzi_url: str = Field(description="Hand it to OpenSeadragon once the slide is scanned.")
    withdrawn_at: datetime | None = Field(
        default=None, description="When a lab manager withdrew it; its images then answer 410."
    )
    withdrawal_reason: str | None = None


class CaseBlock(BaseModel):
    """A block and its slides."""

    id: int
    label: str
    slides: list[CaseSlide]


class CaseSpecimen(BaseModel):
    """A specimen and its blocks."""

    id: int
    label: str
    description: str
    blocks: list[CaseBlock]


class AssignmentPublic(BaseModel):
    """Who holds (or held) a case, in which role, since when and by which rule."""

    id: int
    case_id: int
    pathologist_code: str
    kind: AssignmentKind
    active: bool
    assigned_at: datetime
    assigned_by: str
    rule: str
    ended_at: datetime | None
    end_reason: str | None


class CaseDetail(CasePublic):
    """One case in full: its material down to the slides, and its assignments."""

    second_read_trigger: str | None
    updated_at: datetime
    report_status: ReportStatus = Field(
        default=ReportStatus.NONE, description="none, draft or signed: GET /cases/{id}/report"
    )
    specimens: list[CaseSpecimen]
    assignments: list[AssignmentPublic]


class SlideListing(BaseModel):
    """A slide of a case with where it comes from (specimen and block)."""

    id: int
    specimen_label: str
    block_label: str
    stain: str
    scanned_at: datetime | None
    pyramid_status: PyramidStatus
    dzi_url: str
    withdrawn_at: datetime | None = Field(
        default=None, description="When a lab manager withdrew it; its images then answer 410."
    )
    withdrawal_reason: str | None = None
    after_sign_out: bool = Field(
        default=False,
        description="Scanned after the case was signed out: the pathologist may need to "
        "write an addendum (GET /worklist/after-sign-out lists them).",
    )
