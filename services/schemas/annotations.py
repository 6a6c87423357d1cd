"""Request and response bodies of slide annotations (GeoJSON in slide level-0 pixels)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from services.schemas.common import RequestBody, text


class AnnotationCreate(RequestBody):
    """A drawn region or point: a GeoJSON Feature, FeatureCollection or Geometry."""

    label: Annotated[str, text(0, 200)] = ""
    geojson: dict[str, Any] = Field(
        description="RFC 7946 structure; coordinates are slide level-0 pixels.",
        examples=[{"type": "Point", "coordinates": [1024, 768]}],
    )


class AnnotationPublic(BaseModel):
    """A stored annotation."""

    id: int
    slide_id: int
    author: str
    label: str
    geojson: dict[str, Any]
    created_at: datetime
