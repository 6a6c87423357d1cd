"""Comments, annotations, and the audit record of opening a case or slide.

Annotations are edited and deleted under optimistic concurrency: the caller names the
``version`` it read, and a stale one is refused (409 over HTTP) instead of overwriting the
other editor's change. Only the author, a lab manager or an administrator may change one;
every change and every refused attempt is audited, and a deleted annotation stays in the
database, marked deleted, so the trail can still name it. A signed-out case's annotations
are read-only (:class:`SignedOutError`): they are what the signed report was made on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.db import read_session, run_in_transaction
from worklist.enums import AuditAction, CaseStatus
from worklist.errors import (
    ConcurrentUpdateError,
    NotFoundError,
    NotPermittedError,
    SignedOutError,
    ValidationError,
    WorklistError,
)
from worklist.geojson import AnnotationRules, SlideBounds, validate_geojson
from worklist.models import Annotation, Block, Case, Comment, Slide, Specimen
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import lock_case, utc_now
from worklist.operations._refusals import audit_refusal

T = TypeVar("T")


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


ANNOTATE_EVENT = "slide.annotate"
ANNOTATION_UPDATE_EVENT = "slide.annotation.update"
ANNOTATION_DELETE_EVENT = "slide.annotation.delete"


class AnnotationQuotaError(WorklistError):
    """The slide has as many annotations as a slide may have (``AnnotationRules``)."""


def add_annotation(
    *,
    engine: Engine,
    actor: Actor,
    slide_id: int,
    geojson: str,
    label: str = "",
    class_name: str = "",
    bounds: SlideBounds | None = None,
    rules: AnnotationRules | None = None,
    now: datetime | None = None,
) -> int:
    """Store a validated GeoJSON annotation on a slide; returns its id.

    The geometry is checked against ``bounds`` (the slide's level-0 size; None: finiteness
    only) and ``rules`` (:mod:`worklist.geojson`); the slide keeps at most
    ``rules.max_per_slide`` annotations (:class:`AnnotationQuotaError` beyond); a slide
    of a signed-out case takes none (:class:`SignedOutError`, audited as refused).
    """
    rules = rules or AnnotationRules()
    rules.check_class(class_name)
    validate_geojson(geojson, bounds=bounds, rules=rules)

    def work(session: Session, audit: Recorder) -> int:
        # The slide's row lock (PostgreSQL; SQLite's write lock) keeps two concurrent
        # annotations from both taking the slide's last place.
        slide = _get_slide(session, slide_id, lock=True)
        held = session.scalar(
            select(func.count())
            .select_from(Annotation)
            .where(Annotation.slide_id == slide_id, Annotation.deleted_at.is_(None))
        )
        if (held or 0) >= rules.max_per_slide:
            raise AnnotationQuotaError(
                f"slide {slide_id} has {held} annotations, the most a slide may have; "
                "delete one first"
            )
        annotation = Annotation(
            slide_id=slide.id,
            author=actor.user_id,
            label=label,
            class_name=class_name,
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

    return _run_on_annotation(
        engine, actor, ANNOTATE_EVENT, AuditAction.CREATE, slide_id, work, now
    )


@dataclass(frozen=True, slots=True)
class AnnotationChange:
    """What an edit changes; None leaves a field as it is ("" clears a label or class)."""

    label: str | None = None
    class_name: str | None = None
    geojson: str | None = None

    def changed_fields(self) -> list[str]:
        """The names of the fields this edit sets."""
        return [
            name for name in ("label", "class_name", "geojson") if getattr(self, name) is not None
        ]


def refuse_annotating_signed_out(session: Session, case_id: int) -> None:
    """Raise :class:`SignedOutError` (409 over HTTP) if case ``case_id`` is signed out: its
    annotations are what the signed report was made on, so none is added, edited or deleted
    after it (an addendum is text; the annotations stay as they were). Checked first, before
    which annotation, who may change it or which version it is at: "signed out" is what to
    know. The case's row is locked, as sign-out locks it, so a change and a sign-out at the
    same moment are one after the other: never a change after the signature."""
    case = lock_case(session, case_id)
    if case.status is CaseStatus.SIGNED_OUT:
        raise SignedOutError(
            case.accession_number,
            "annotated",
            f"case {case.accession_number!r} is signed out: its annotations are read-only",
        )


def may_change_annotation(actor: Actor, author: str) -> bool:
    """Whether ``actor`` may edit or delete an annotation by ``author``: its author, or a lab
    manager or administrator (who look after the region's slides)."""
    return actor.user_id == author or actor.may_manage


def update_annotation(
    *,
    engine: Engine,
    actor: Actor,
    slide_id: int,
    annotation_id: int,
    expected_version: int,
    change: AnnotationChange,
    bounds: SlideBounds | None = None,
    rules: AnnotationRules | None = None,
    now: datetime | None = None,
) -> int:
    """Edit an annotation if it is still at ``expected_version``; returns its new version.

    Refused, and recorded as refused: by someone who may not change it
    (:class:`NotPermittedError`, see :func:`may_change_annotation`) and from a stale read
    (:class:`ConcurrentUpdateError`, naming the current version), and on a signed-out case
    (:func:`refuse_annotating_signed_out`). A new geometry is checked as
    :func:`add_annotation` checks one.
    """
    rules = rules or AnnotationRules()
    fields = change.changed_fields()
    if not fields:
        raise ValidationError("an annotation edit needs at least one of label, class_name, geojson")

    def work(session: Session, audit: Recorder) -> int:
        annotation = _annotation_to_change(
            session, actor, slide_id, annotation_id, expected_version
        )
        if change.class_name is not None:
            rules.check_class(change.class_name)
            annotation.class_name = change.class_name
        if change.geojson is not None:
            validate_geojson(change.geojson, bounds=bounds, rules=rules)
            annotation.geojson = change.geojson
        if change.label is not None:
            annotation.label = change.label
        annotation.updated_at = audit.moment
        annotation.updated_by = actor.user_id
        session.flush()  # bumps the version, checking it once more in the UPDATE itself
        audit.record(
            case=_case_of_slide(session, slide_id),
            slide_id=slide_id,
            detail={
                "annotation_id": annotation_id,
                "version": annotation.version,
                "changed": fields,
            },
        )
        return annotation.version

    return _run_on_annotation(
        engine, actor, ANNOTATION_UPDATE_EVENT, AuditAction.UPDATE, slide_id, work, now
    )


def delete_annotation(
    *,
    engine: Engine,
    actor: Actor,
    slide_id: int,
    annotation_id: int,
    expected_version: int,
    now: datetime | None = None,
) -> None:
    """Delete an annotation that is still at ``expected_version``; refused as
    :func:`update_annotation` refuses. The row stays, marked deleted, for the audit trail."""

    def work(session: Session, audit: Recorder) -> None:
        annotation = _annotation_to_change(
            session, actor, slide_id, annotation_id, expected_version
        )
        annotation.deleted_at = audit.moment
        annotation.deleted_by = actor.user_id
        session.flush()
        audit.record(
            case=_case_of_slide(session, slide_id),
            slide_id=slide_id,
            detail={"annotation_id": annotation_id, "version": annotation.version},
        )

    _run_on_annotation(
        engine, actor, ANNOTATION_DELETE_EVENT, AuditAction.DELETE, slide_id, work, now
    )


def _case_of_slide(session: Session, slide_id: int) -> Case:
    """The case of slide ``slide_id`` (whose patient an annotation is about)."""
    return _get_slide(session, slide_id).block.specimen.case


def _annotation_to_change(
    session: Session, actor: Actor, slide_id: int, annotation_id: int, expected_version: int
) -> Annotation:
    annotation = session.execute(
        select(Annotation).where(Annotation.id == annotation_id).with_for_update()
    ).scalar_one_or_none()
    if annotation is None or annotation.slide_id != slide_id or annotation.deleted_at is not None:
        raise NotFoundError("annotation", annotation_id)
    if not may_change_annotation(actor, annotation.author):
        raise NotPermittedError(
            f"annotation {annotation_id} is {annotation.author}'s: only its author or a lab "
            "manager may change it"
        )
    if annotation.version != expected_version:
        raise ConcurrentUpdateError(
            f"annotation {annotation_id} is at version {annotation.version}, not "
            f"{expected_version}: it changed since it was read; reload and retry"
        )
    return annotation


def _run_on_annotation(
    engine: Engine,
    actor: Actor,
    event_type: str,
    action: AuditAction,
    slide_id: int,
    work: Callable[[Session, Recorder], T],
    now: datetime | None,
) -> T:
    """:func:`run_audited` for an annotation: a refusal is recorded against the slide and its
    case (found first), so the audit review sees whose data the attempt was about. The one
    place every annotation change passes, so the signed-out rule is checked here
    (:func:`refuse_annotating_signed_out`)."""
    with read_session(engine) as session:
        case_id = session.scalar(
            select(Specimen.case_id)
            .join(Block, Block.specimen_id == Specimen.id)
            .join(Slide, Slide.block_id == Block.id)
            .where(Slide.id == slide_id)
        )
    if case_id is None:
        raise NotFoundError("slide", slide_id)
    found_case_id: int = case_id  # narrowed, for the closure

    def transaction(session: Session) -> T:
        refuse_annotating_signed_out(session, found_case_id)
        recorder = Recorder(
            session, actor=actor, event_type=event_type, action=action, moment=utc_now(now)
        )
        return work(session, recorder)

    with audit_refusal(
        engine=engine,
        actor=actor,
        event_type=event_type,
        action=action,
        case_id=case_id,
        slide_id=slide_id,
        now=now,
    ):
        return run_in_transaction(engine, transaction)


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


def _get_slide(session: Session, slide_id: int, *, lock: bool = False) -> Slide:
    query = select(Slide).where(Slide.id == slide_id)
    slide = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if slide is None:
        raise NotFoundError("slide", slide_id)
    return slide
