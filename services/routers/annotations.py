"""Annotations on a slide: GeoJSON in slide level-0 pixels, validated before it is stored."""

from __future__ import annotations

import json

from fastapi import APIRouter, status
from sqlalchemy import select

from services.access import slide_for_viewing
from services.deps import CurrentUser, EngineDep, SessionDep
from services.errors import ResourceNotFoundError
from services.routers.params import AnnotationId, SlideId
from services.schemas.annotations import AnnotationCreate, AnnotationPublic
from services.schemas.auth import ErrorBody
from worklist.db import read_session
from worklist.models import Annotation
from worklist.operations import add_annotation

router = APIRouter(
    prefix="/slides/{slide_id}/annotations",
    tags=["annotations"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "The slide's case is not yours to see."},
        404: {"model": ErrorBody, "description": "No such slide or annotation."},
    },
)


def _public(annotation: Annotation) -> AnnotationPublic:
    return AnnotationPublic(
        id=annotation.id,
        slide_id=annotation.slide_id,
        author=annotation.author,
        label=annotation.label,
        geojson=json.loads(annotation.geojson),
        created_at=annotation.created_at,
    )


@router.get("", response_model=list[AnnotationPublic])
def list_annotations(
    slide_id: SlideId, user: CurrentUser, session: SessionDep
) -> list[AnnotationPublic]:
    """The slide's annotations, oldest first."""
    slide_for_viewing(session, user, slide_id)
    annotations = session.scalars(
        select(Annotation).where(Annotation.slide_id == slide_id).order_by(Annotation.id)
    )
    return [_public(annotation) for annotation in annotations]


@router.post(
    "",
    response_model=AnnotationPublic,
    status_code=status.HTTP_201_CREATED,
)
def annotate(
    slide_id: SlideId,
    body: AnnotationCreate,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
) -> AnnotationPublic:
    """Draw on a slide: a GeoJSON Feature, FeatureCollection or Geometry."""
    slide_for_viewing(session, user, slide_id)
    annotation_id = add_annotation(
        engine=engine,
        actor=user.actor,
        slide_id=slide_id,
        geojson=json.dumps(body.geojson, separators=(",", ":")),
        label=body.label,
    )
    with read_session(engine) as fresh:
        return _public(fresh.get_one(Annotation, annotation_id))


@router.get("/{annotation_id}", response_model=AnnotationPublic)
def get_annotation(
    slide_id: SlideId, annotation_id: AnnotationId, user: CurrentUser, session: SessionDep
) -> AnnotationPublic:
    """One annotation of the slide."""
    slide_for_viewing(session, user, slide_id)
    annotation = session.get(Annotation, annotation_id)
    if annotation is None or annotation.slide_id != slide_id:
        raise ResourceNotFoundError(f"slide {slide_id} has no annotation {annotation_id}")
    return _public(annotation)
