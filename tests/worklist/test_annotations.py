"""Annotations as operations: edits and deletes by version, who may make them, the quota per
slide under concurrency, the audit trail, and migration 0008 (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, NOW, PATHOLOGIST, Factory
from worklist.actor import Actor
from worklist.enums import AuditOutcome, CaseStatus, Role
from worklist.errors import (
    ConcurrentUpdateError,
    NotFoundError,
    NotPermittedError,
    SignedOutError,
    ValidationError,
)
from worklist.geojson import AnnotationRules, SlideBounds
from worklist.migrate import alembic_config, upgrade_engine
from worklist.models import Annotation, AuditEvent, Slide
from worklist.operations.notes import (
    AnnotationChange,
    AnnotationQuotaError,
    add_annotation,
    delete_annotation,
    update_annotation,
)

COLLEAGUE = Actor(user_id="collega", role=Role.PATHOLOGIST, site="HMC")
BOUNDS = SlideBounds(width_px=2000, height_px=1000)
POINT = json.dumps({"type": "Point", "coordinates": [10, 20]})


@pytest.fixture
def slide_id(factory: Factory, engine: Engine) -> int:
    factory.cases()
    with Session(engine) as session:
        return session.scalars(select(Slide.id)).one()


def annotate(engine: Engine, slide_id: int, actor: Actor = PATHOLOGIST, **options: Any) -> int:
    return add_annotation(
        engine=engine, actor=actor, slide_id=slide_id, geojson=POINT, bounds=BOUNDS, **options
    )


def stored(engine: Engine, annotation_id: int) -> Annotation:
    with Session(engine) as session:
        return session.get_one(Annotation, annotation_id)


def events(engine: Engine, event_type: str) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.event_type == event_type)
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def test_an_edit_bumps_the_version_and_is_audited(engine: Engine, slide_id: int) -> None:
    annotation_id = annotate(engine, slide_id, label="tumour")
    moved = json.dumps({"type": "Point", "coordinates": [2000, 1000]})
    version = update_annotation(
        engine=engine,
        actor=PATHOLOGIST,
        slide_id=slide_id,
        annotation_id=annotation_id,
        expected_version=1,
        change=AnnotationChange(geojson=moved, class_name="stroma"),
        bounds=BOUNDS,
        now=NOW,
    )
    row = stored(engine, annotation_id)
    assert (version, row.version, row.geojson, row.class_name, row.label) == (
        2,
        2,
        moved,
        "stroma",
        "tumour",
    )
    assert (row.updated_at, row.updated_by) == (NOW, "patholoog")
    [record] = events(engine, "slide.annotation.update")
    assert (record.outcome, record.slide_id, record.patient_pseudonym) == (
        AuditOutcome.SUCCESS,
        slide_id,
        "PSN-000000",
    )
    assert json.loads(record.detail) == {
        "annotation_id": annotation_id,
        "version": 2,
        "changed": ["class_name", "geojson"],
    }


def test_a_stale_version_is_refused_and_recorded(engine: Engine, slide_id: int) -> None:
    annotation_id = annotate(engine, slide_id)
    edit: dict[str, Any] = {"engine": engine, "slide_id": slide_id, "annotation_id": annotation_id}
    update_annotation(
        **edit, actor=MANAGER, expected_version=1, change=AnnotationChange(label="checked")
    )
    with pytest.raises(ConcurrentUpdateError, match="is at version 2, not 1"):
        update_annotation(
            **edit, actor=PATHOLOGIST, expected_version=1, change=AnnotationChange(label="mine")
        )
    with pytest.raises(ConcurrentUpdateError, match="is at version 2, not 1"):
        delete_annotation(**edit, actor=PATHOLOGIST, expected_version=1)
    row = stored(engine, annotation_id)
    assert (row.label, row.version, row.deleted_at) == ("checked", 2, None)
    outcomes = [e.outcome for e in events(engine, "slide.annotation.update")]
    assert outcomes == [AuditOutcome.SUCCESS, AuditOutcome.MINOR_FAILURE]


def test_only_the_author_or_a_manager_may_change_one(engine: Engine, slide_id: int) -> None:
    annotation_id = annotate(engine, slide_id)
    edit: dict[str, Any] = {"engine": engine, "slide_id": slide_id, "annotation_id": annotation_id}
    with pytest.raises(NotPermittedError, match="is patholoog's"):
        update_annotation(
            **edit, actor=COLLEAGUE, expected_version=1, change=AnnotationChange(label="x")
        )
    with pytest.raises(NotPermittedError):
        delete_annotation(**edit, actor=COLLEAGUE, expected_version=1)
    for event_type in ("slide.annotation.update", "slide.annotation.delete"):
        [refusal] = events(engine, event_type)
        assert (refusal.outcome, refusal.user_id, refusal.slide_id, refusal.case_id) == (
            AuditOutcome.SERIOUS_FAILURE,
            "collega",
            slide_id,
            stored_case_id(engine, slide_id),
        )
    delete_annotation(**edit, actor=MANAGER, expected_version=1, now=NOW)
    row = stored(engine, annotation_id)
    assert (row.deleted_at, row.deleted_by, row.version) == (NOW, "manager", 2)
    with pytest.raises(NotFoundError):
        delete_annotation(**edit, actor=MANAGER, expected_version=2)


def stored_case_id(engine: Engine, slide_id: int) -> int:
    with Session(engine) as session:
        return session.get_one(Slide, slide_id).block.specimen.case_id


def test_an_annotation_is_changed_only_on_its_own_slide(
    engine: Engine, factory: Factory, slide_id: int
) -> None:
    annotation_id = annotate(engine, slide_id)
    with pytest.raises(NotFoundError):
        update_annotation(
            engine=engine,
            actor=PATHOLOGIST,
            slide_id=slide_id,
            annotation_id=annotation_id + 1,
            expected_version=1,
            change=AnnotationChange(label="x"),
        )
    with pytest.raises(ValidationError, match="needs at least one of"):
        update_annotation(
            engine=engine,
            actor=PATHOLOGIST,
            slide_id=slide_id,
            annotation_id=annotation_id,
            expected_version=1,
            change=AnnotationChange(),
        )


def test_two_editors_racing_on_one_version_one_wins(engine: Engine, slide_id: int) -> None:
    annotation_id = annotate(engine, slide_id)
    editors = [Actor(user_id="patholoog", role=Role.PATHOLOGIST)] * 4 + [MANAGER] * 4

    def edit(i: int) -> str:
        try:
            update_annotation(
                engine=engine,
                actor=editors[i],
                slide_id=slide_id,
                annotation_id=annotation_id,
                expected_version=1,
                change=AnnotationChange(label=f"edit {i}"),
            )
        except ConcurrentUpdateError:
            return "refused"
        return "won"

    with ThreadPoolExecutor(max_workers=len(editors)) as pool:
        outcomes = list(pool.map(edit, range(len(editors))))
    assert sorted(outcomes) == ["refused"] * (len(editors) - 1) + ["won"]
    row = stored(engine, annotation_id)
    assert row.version == 2
    assert row.label == f"edit {outcomes.index('won')}"


def test_the_quota_holds_when_many_draw_at_once(engine: Engine, slide_id: int) -> None:
    rules = AnnotationRules(max_per_slide=3)

    def draw(_: int) -> str:
        try:
            annotate(engine, slide_id, rules=rules)
        except AnnotationQuotaError:
            return "refused"
        return "stored"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(draw, range(8)))
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"] * 3
    with Session(engine) as session:
        assert len(session.scalars(select(Annotation.id)).all()) == 3


def test_the_class_and_geometry_rules_apply_to_drawing(engine: Engine, slide_id: int) -> None:
    with pytest.raises(ValidationError, match="unknown annotation class"):
        annotate(engine, slide_id, class_name="carcinoid")
    with pytest.raises(ValidationError, match="outside the slide"):
        add_annotation(
            engine=engine,
            actor=PATHOLOGIST,
            slide_id=slide_id,
            geojson=json.dumps({"type": "Point", "coordinates": [2001, 0]}),
            bounds=BOUNDS,
        )
    assert events(engine, "slide.annotate") == []


def test_migration_0008_keeps_existing_annotations(engine: Engine, slide_id: int) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0007")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO annotation (slide_id, author, label, geojson, created_at) "
                "VALUES (:slide, 'patholoog', 'old', :geojson, :at)"
            ),
            {"slide": slide_id, "geojson": POINT, "at": NOW},
        )
    upgrade_engine(engine)
    with Session(engine) as session:
        [old] = session.scalars(select(Annotation)).all()
    assert (old.label, old.class_name, old.version, old.deleted_at) == ("old", "", 1, None)
    assert (
        update_annotation(
            engine=engine,
            actor=PATHOLOGIST,
            slide_id=slide_id,
            annotation_id=old.id,
            expected_version=1,
            change=AnnotationChange(label="new"),
        )
        == 2
    )


def test_a_signed_out_case_s_annotations_are_read_only(engine: Engine, slide_id: int) -> None:
    annotation_id = annotate(engine, slide_id, label="invasive front")
    with Session(engine) as session, session.begin():
        slide = session.get_one(Slide, slide_id)
        case = slide.block.specimen.case
        # The status sign-out leaves (its own tests are in test_reports): the rule reads it.
        case.status = CaseStatus.SIGNED_OUT
    edit: dict[str, Any] = {"engine": engine, "slide_id": slide_id, "annotation_id": annotation_id}
    with pytest.raises(SignedOutError, match="signed out: its annotations are read-only"):
        annotate(engine, slide_id)
    with pytest.raises(SignedOutError):
        update_annotation(
            **edit, actor=PATHOLOGIST, expected_version=1, change=AnnotationChange(label="x")
        )
    with pytest.raises(SignedOutError):  # a manager too, and before the version is looked at
        delete_annotation(**edit, actor=MANAGER, expected_version=7)
    row = stored(engine, annotation_id)
    assert (row.label, row.version, row.deleted_at) == ("invasive front", 1, None)
    with Session(engine) as session:
        assert session.scalars(select(Annotation.id)).all() == [annotation_id]
