"""Request and response bodies of slide annotations (GeoJSON in slide level-0 pixels).

Lists come as the shared :class:`services.schemas.common.Page`. An edit or a delete names
the version it was made from in the ``If-Match`` header (the ``ETag`` of the annotation, or
its ``version``), see :mod:`services.routers.annotations`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from services.schemas.common import RequestBody, text

Label = Annotated[str, text(0, 200)]
ClassName = Annotated[
    str,
    Field(
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description='One of the configured classes (COUPE_ANNOTATION_CLASSES); "" for none.',
    ),
]
GeoJson = Annotated[
    dict[str, Any],
    Field(
        description="RFC 7946 Feature, FeatureCollection or Geometry (Point, MultiPoint, "
        "LineString, MultiLineString, Polygon, MultiPolygon; a rectangle is a Polygon). "
        "Coordinates are [x, y] in slide level-0 pixels, inside the slide; the geometry must "
        "be valid (no self-intersections).",
        examples=[{"type": "Point", "coordinates": [1024, 768]}],
    ),
]


class AnnotationCreate(RequestBody):
    """A drawn region, line or point, with an optional label and class."""

    label: Label = ""
    class_name: ClassName = ""
    geojson: GeoJson


class AnnotationUpdate(RequestBody):
    """An edit: the fields sent are changed, those left out stay as they are."""

    label: Label | None = None
    class_name: ClassName | None = None
    geojson: GeoJson | None = None


class AnnotationPublic(BaseModel):
    """A stored annotation. Send ``version`` back (``If-Match``) to edit or delete it."""

    id: int
    slide_id: int
    author: str
    label: str
    class_name: str
    geojson: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None
    updated_by: str | None
    version: int


class AnnotationRulesPublic(BaseModel):
    """What an annotation may hold here: the classes to pick from ("" is always allowed: no
    class) and the limits the API enforces."""

    classes: list[str] = Field(description="COUPE_ANNOTATION_CLASSES, in the configured order.")
    max_vertices: int = Field(description="Positions in one annotation, at most.")
    max_bytes: int = Field(description="Size of one annotation's GeoJSON text, at most.")
    max_per_slide: int = Field(description="Annotations on one slide (not deleted), at most.")
