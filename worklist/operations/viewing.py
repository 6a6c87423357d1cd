"""The audit record of looking at patient data: a case or a slide opened, or refused.

NEN 7513 asks for a record of every access to a patient's data and of every refused attempt.
Reads are not operations that change anything, so this is the one write a read makes: the
caller (the service's access check) already knows the case, and decides how often to call
(once per sign-in session and case or slide, not once per tile).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, AuditOutcome
from worklist.errors import NotFoundError
from worklist.models import Case
from worklist.operations._common import utc_now

CASE_OPEN_EVENT = "case.open"
SLIDE_OPEN_EVENT = "slide.open"
# Fetched ahead for "Next case" while the pathologist reads the case before: their browser has
# the data, they have not looked at it. Opening it later is a case.open / slide.open of its own.
CASE_PREFETCH_EVENT = "case.prefetch"
SLIDE_PREFETCH_EVENT = "slide.prefetch"


def record_view(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    slide_id: int | None = None,
    image: str | None = None,
    refused_reason: str | None = None,
    prefetched: bool = False,
    now: datetime | None = None,
) -> None:
    """Record that ``actor`` opened case ``case_id`` (or its slide ``slide_id``, or one of the
    slide's ``image``s: "label", "macro"), or, with ``refused_reason``, that they tried and
    were refused (a serious failure: it is reviewed). With ``prefetched`` the data was fetched
    ahead into their browser, not shown (``case.prefetch`` / ``slide.prefetch``).
    """
    detail: dict[str, str] = {}
    if image is not None:
        detail["image"] = image
    if refused_reason is not None:
        detail["refused"] = refused_reason
    moment = utc_now(now)

    def work(session: Session) -> None:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFoundError("case", case_id)
        record_event(
            session,
            actor=actor,
            event_type=_event_type(slide_id is not None, prefetched),
            action=AuditAction.READ,
            outcome=AuditOutcome.SUCCESS
            if refused_reason is None
            else AuditOutcome.SERIOUS_FAILURE,
            case=case,
            slide_id=slide_id,
            detail=detail,
            now=moment,
        )

    run_in_transaction(engine, work)


def _event_type(of_slide: bool, prefetched: bool) -> str:
    if prefetched:
        return SLIDE_PREFETCH_EVENT if of_slide else CASE_PREFETCH_EVENT
    return SLIDE_OPEN_EVENT if of_slide else CASE_OPEN_EVENT
