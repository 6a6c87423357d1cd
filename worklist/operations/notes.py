"""Comments, annotations, and the audit record of opening a case or slide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.enums import AuditAction
from worklist.errors import NotFoundError, ValidationError
from worklist.geojson import validate_geojson
from worklist.models import Annotation, Case, Comment, Slide
from worklist.operations._audited import Recorder, run_audited


def add_comment(
    *, engine: Engine, actor: Actor, case_id: int, body: str, now: datetime | None = None
) -> int:
    """Add a comment to a case; returns its id."""
    if not body.strip():
        raise ValidationError("a comment needs text")

    def work(session: Session, audit: Recorder) -> int:
        case = _get_case(session, case_id)
        comment = Comment(case_id=case.id, author=actor.user_id, body=body, created_at=audit.moment)
        session.add(comment)
        session.flush()
        audit.record(case=case, detail={"comment_id": comment.id})
        return comment.id

    return run_audited(
        engine, actor, "case.comment", work, action=AuditAction.CREATE, case_id=case_id, now=now
    )


def add_annotation(
    *,
    engine: Engine,
    actor: Actor,
    slide_id: int,
    geojson: str,
    label: str = "",
    now: datetime | None = None,
) -> int:
    """Store a validated GeoJSON annotation on a slide; returns its id."""
    validate_geojson(geojson)

    def work(session: Session, audit: Recorder) -> int:
        slide = _get_slide(session, slide_id)
        annotation = Annotation(
            slide_id=slide.id,
            author=actor.user_id,
            label=label,
            geojson=geojson,
            created_at=audit.moment,
        )
        session.add(annotation)
        session.flush()
        audit.record(
            case=slide.block.specimen.case,
            slide_id=slide.id,
            detail={"annotation_id": annotation.id},
        )
        return annotation.id

    return run_audited(engine, actor, "slide.annotate", work, action=AuditAction.CREATE, now=now)


def record_access(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int | None = None,
    slide_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Record that ``actor`` opened a case or a slide (one record per opening, not per tile)."""
    if (case_id is None) == (slide_id is None):
        raise ValueError("record_access needs exactly one of case_id and slide_id")

    def work(session: Session, audit: Recorder) -> None:
        if slide_id is not None:
            slide = _get_slide(session, slide_id)
            case = slide.block.specimen.case
        else:
            assert case_id is not None
            case = _get_case(session, case_id)
        audit.record(case=case, slide_id=slide_id)

    run_audited(
        engine,
        actor,
        "slide.open" if slide_id is not None else "case.open",
        work,
        action=AuditAction.READ,
        case_id=case_id,
        now=now,
    )


def _get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("case", case_id)
    return case


def _get_slide(session: Session, slide_id: int) -> Slide:
    slide = session.get(Slide, slide_id)
    if slide is None:
        raise NotFoundError("slide", slide_id)
    return slide
