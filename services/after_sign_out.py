"""Slides that came after sign-out: a scan registered on a case already signed out reaches
the pathologist who signed it out (``GET /worklist/after-sign-out``), who may need to write
an addendum. An addendum signed after the slide was scanned settles it; a withdrawn slide
is no longer shown. The scanner import flags the same slides for the lab (import queue).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from services.case_queries import visible_to
from services.deps import AuthenticatedUser
from services.paging import Ordering, SortKey, read_page
from services.schemas.common import Page
from services.schemas.worklist import AfterSignOutItem
from worklist.enums import CaseStatus
from worklist.models import Block, Case, Report, ReportAddendum, Slide, Specimen

AFTER_SIGN_OUT_OLDEST_FIRST = Ordering(
    "worklist.after_sign_out", (SortKey(Slide.scanned_at, "time"), SortKey(Slide.id, "int"))
)


def slides_after_sign_out(
    session: Session,
    user: AuthenticatedUser,
    pathologist_id: int,
    *,
    limit: int,
    cursor: str | None,
) -> Page[AfterSignOutItem]:
    """One page of the slides scanned after pathologist ``pathologist_id`` signed their case
    out and not yet answered by an addendum signed after them, oldest scan first; only cases
    ``user`` may still open."""
    answered = exists().where(
        ReportAddendum.report_id == Report.id, ReportAddendum.signed_at >= Slide.scanned_at
    )
    rows = (
        select(
            Slide.id,
            Slide.stain,
            Slide.scanned_at,
            Specimen.label,
            Block.label,
            Case.id,
            Case.accession_number,
            Case.signed_out_at,
        )
        .select_from(Slide)
        .join(Block, Slide.block_id == Block.id)
        .join(Specimen, Block.specimen_id == Specimen.id)
        .join(Case, Case.id == Specimen.case_id)
        .join(Report, Report.case_id == Case.id)
        .where(
            Case.status == CaseStatus.SIGNED_OUT,
            Report.signed_by_id == pathologist_id,
            Slide.scanned_at > Case.signed_out_at,
            Slide.withdrawn_at.is_(None),
            ~answered,
            visible_to(user),
        )
    )
    return read_page(
        session,
        rows,
        order=AFTER_SIGN_OUT_OLDEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=_item,
    )


def _item(
    slide_id: int,
    stain: str,
    scanned_at: datetime,
    specimen_label: str,
    block_label: str,
    case_id: int,
    accession_number: str,
    signed_out_at: datetime,
) -> AfterSignOutItem:
    return AfterSignOutItem(
        case_id=case_id,
        accession_number=accession_number,
        slide_id=slide_id,
        specimen_label=specimen_label,
        block_label=block_label,
        stain=stain,
        scanned_at=scanned_at,
        signed_out_at=signed_out_at,
    )
