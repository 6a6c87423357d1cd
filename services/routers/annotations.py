"""Annotations on a slide: GeoJSON in slide level-0 pixels, validated before it is stored.

Bounded: coordinates lie inside the slide's level-0 size, read from its image. A slide
without an image (not scanned yet) takes no annotations (409), and one whose file has gone
none either (410): nobody can have drawn on what nobody can see. The limits per annotation
and per slide, and the classes, are settings (``Settings.annotation_rules``).

Edits never lose each other: every answer that shows one annotation carries its ``ETag``
(``"3"``: its version), and ``PATCH`` and ``DELETE`` need it back in ``If-Match``. If the
annotation changed meanwhile the request is refused with 409, naming the current version;
without ``If-Match`` it is refused with 422. Only the author, a lab manager or an
administrator may change or delete one (403 otherwise, and the attempt is audited). A
signed-out case's annotations are read-only: any change is refused with 409 and audited.

Reading annotations shows patient data: it is audited once per sign-in session and slide,
as opening the slide is (whichever of descriptor, tile or annotations comes first); what is
done under an emergency (break-the-glass) grant alone is flagged in the audit as such.

A second router, :data:`rules_router`, answers ``GET /annotation-classes``: the configured
classes and limits, so the drawing page offers exactly what the API accepts.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from sqlalchemy import select

from services.access import SlideAccess, open_slide
from services.deps import CurrentUser, SessionDep, SettingsDep, StateDep
from services.errors import ConflictError, ResourceNotFoundError
from services.paging import Ordering, SortKey, read_page
from services.routers.params import AnnotationId, Cursor, Limit, SlideId
from services.schemas.annotations import (
    AnnotationCreate,
    AnnotationPublic,
    AnnotationRulesPublic,
    AnnotationUpdate,
)
from services.schemas.auth import ErrorBody
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from services.state import AppState
from services.storage import resolve_slide_file
from worklist.db import read_session
from worklist.geojson import SlideBounds
from worklist.models import Annotation
from worklist.operations.notes import (
    AnnotationChange,
    add_annotation,
    delete_annotation,
    update_annotation,
)

router = APIRouter(
    prefix="/slides/{slide_id}/annotations",
    tags=["annotations"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "The slide's case is not yours to see."},
        404: {"model": ErrorBody, "description": "No such slide or annotation."},
    },
)

IfMatch = Annotated[
    str,
    Header(
        pattern=r'^(?:"[1-9][0-9]{0,18}"|[1-9][0-9]{0,18})$',
        description='The annotation\'s ETag as read ("3"), or its version (3).',
    ),
]

_WRITE_RESPONSES: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorBody, "description": "Not your annotation (author or lab manager)."},
    409: {
        "model": ErrorBody,
        "description": "The annotation changed since you read it (the detail names its "
        "version now); or the slide has no image, or all the annotations it may have; or "
        "its case is signed out (its annotations are read-only).",
    },
    410: {"model": ErrorBody, "description": "The slide file has vanished: its size is unknown."},
    422: {"model": ErrorBody, "description": "Invalid geometry or class, or no If-Match."},
}


def _public(annotation: Annotation) -> AnnotationPublic:
    return AnnotationPublic(
        id=annotation.id,
        slide_id=annotation.slide_id,
        author=annotation.author,
        label=annotation.label,
        class_name=annotation.class_name,
        geojson=json.loads(annotation.geojson),
        created_at=annotation.created_at,
        updated_at=annotation.updated_at,
        updated_by=annotation.updated_by,
        version=annotation.version,
    )


def _etag(annotation: Annotation) -> str:
    return f'"{annotation.version}"'


def _version(if_match: str) -> int:
    return int(if_match.strip('"'))


def _geojson_text(geojson: dict[str, object]) -> str:
    return json.dumps(geojson, separators=(",", ":"))


def _slide_bounds(state: AppState, access: SlideAccess) -> SlideBounds:
    """The slide's level-0 size from its image; 409 if it has none, 410 if its file is gone."""
    slide_file = resolve_slide_file(state.settings, access.file_path)
    if slide_file is None:
        raise ConflictError(
            f"slide {access.slide_id} has no image yet: annotations are drawn on the image"
        )
    facts = state.tiles.facts(access.slide_id, slide_file)
    return SlideBounds(width_px=facts.width_px, height_px=facts.height_px)


def _current(state: AppState, slide_id: int, annotation_id: int) -> Annotation:
    with read_session(state.engine) as session:
        annotation = session.get(Annotation, annotation_id)
    if annotation is None or annotation.slide_id != slide_id or annotation.deleted_at is not None:
        raise ResourceNotFoundError(f"slide {slide_id} has no annotation {annotation_id}")
    return annotation


ANNOTATIONS_OLDEST_FIRST = Ordering("slide.annotations", (SortKey(Annotation.id, "int"),))


@router.get("", response_model=Page[AnnotationPublic])
def list_annotations(
    slide_id: SlideId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[AnnotationPublic]:
    """The slide's annotations, oldest first, a page at a time; deleted ones are left out.
    Audited as opening the slide."""
    access = open_slide(session, user, slide_id, views=state.views)
    page = read_page(
        session,
        select(Annotation).where(Annotation.slide_id == slide_id, Annotation.deleted_at.is_(None)),
        order=ANNOTATIONS_OLDEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=_public,
    )
    state.views.opened(state.engine, user, access)
    return page


@router.post(
    "",
    response_model=AnnotationPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_WRITE_RESPONSES,
)
def annotate(
    slide_id: SlideId,
    body: AnnotationCreate,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> AnnotationPublic:
    """Draw on a slide: a GeoJSON Feature, FeatureCollection or Geometry inside the slide."""
    access = open_slide(session, user, slide_id)
    annotation_id = add_annotation(
        engine=state.engine,
        actor=access.actor,
        slide_id=slide_id,
        geojson=_geojson_text(body.geojson),
        label=body.label,
        class_name=body.class_name,
        bounds=_slide_bounds(state, access),
        rules=state.settings.annotation_rules,
    )
    annotation = _current(state, slide_id, annotation_id)
    response.headers["ETag"] = _etag(annotation)
    return _public(annotation)


@router.get("/{annotation_id}", response_model=AnnotationPublic)
def get_annotation(
    slide_id: SlideId,
    annotation_id: AnnotationId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> AnnotationPublic:
    """One annotation of the slide, with its ``ETag`` for an edit or a delete. Audited as
    opening the slide."""
    access = open_slide(session, user, slide_id, views=state.views)
    annotation = _current(state, slide_id, annotation_id)
    state.views.opened(state.engine, user, access)
    response.headers["ETag"] = _etag(annotation)
    return _public(annotation)


@router.patch("/{annotation_id}", response_model=AnnotationPublic, responses=_WRITE_RESPONSES)
def edit_annotation(
    slide_id: SlideId,
    annotation_id: AnnotationId,
    body: AnnotationUpdate,
    if_match: IfMatch,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> AnnotationPublic:
    """Change an annotation's label, class or geometry, if it is still the version you read
    (``If-Match``); answers with the new version and ``ETag``."""
    access = open_slide(session, user, slide_id)
    geojson = None if body.geojson is None else _geojson_text(body.geojson)
    update_annotation(
        engine=state.engine,
        actor=access.actor,
        slide_id=slide_id,
        annotation_id=annotation_id,
        expected_version=_version(if_match),
        change=AnnotationChange(label=body.label, class_name=body.class_name, geojson=geojson),
        bounds=None if geojson is None else _slide_bounds(state, access),
        rules=state.settings.annotation_rules,
    )
    annotation = _current(state, slide_id, annotation_id)
    response.headers["ETag"] = _etag(annotation)
    return _public(annotation)


@router.delete(
    "/{annotation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_WRITE_RESPONSES,
)
def remove_annotation(
    slide_id: SlideId,
    annotation_id: AnnotationId,
    if_match: IfMatch,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """Delete an annotation, if it is still the version you read (``If-Match``). Audited;
    the listing no longer shows it."""
    access = open_slide(session, user, slide_id)
    delete_annotation(
        engine=state.engine,
        actor=access.actor,
        slide_id=slide_id,
        annotation_id=annotation_id,
        expected_version=_version(if_match),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


rules_router = APIRouter(
    prefix="/annotation-classes",
    tags=["annotations"],
    responses={401: {"model": ErrorBody, "description": "Not signed in."}},
)


@rules_router.get("", response_model=AnnotationRulesPublic)
def annotation_rules(user: CurrentUser, settings: SettingsDep) -> AnnotationRulesPublic:
    """The classes an annotation may carry (``COUPE_ANNOTATION_CLASSES``, in their configured
    order) and the limits on one annotation and on a slide's annotations."""
    rules = settings.annotation_rules
    return AnnotationRulesPublic(
        classes=list(rules.classes),
        max_vertices=rules.max_vertices,
        max_bytes=rules.max_bytes,
        max_per_slide=rules.max_per_slide,
    )
