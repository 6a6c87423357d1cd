"""Validation of annotation GeoJSON (RFC 7946 structure; coordinates in slide pixels)."""

from __future__ import annotations

import json
import math
from typing import Any

from worklist.errors import ValidationError

_GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)
MAX_GEOJSON_BYTES = 2_000_000


def validate_geojson(text: str) -> dict[str, Any]:
    """Parse ``text`` and check it is a Feature, FeatureCollection or Geometry; return it.

    Raises :class:`ValidationError` naming the offending path, e.g. ``features[2].geometry``.
    """
    if len(text.encode()) > MAX_GEOJSON_BYTES:
        raise ValidationError(f"annotation GeoJSON is larger than {MAX_GEOJSON_BYTES} bytes")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"annotation is not JSON: {exc}") from exc
    _check_object(document, "$")
    return dict(document)


def _check_object(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        raise ValidationError(f"{path}: expected a GeoJSON object")
    kind = node.get("type")
    if kind == "FeatureCollection":
        features = node.get("features")
        if not isinstance(features, list):
            raise ValidationError(f"{path}.features: expected a list")
        for i, feature in enumerate(features):
            _check_feature(feature, f"{path}.features[{i}]")
    elif kind == "Feature":
        _check_feature(node, path)
    elif kind in _GEOMETRY_TYPES:
        _check_geometry(node, path)
    else:
        raise ValidationError(f"{path}.type: unsupported GeoJSON type {kind!r}")


def _check_feature(node: Any, path: str) -> None:
    if not isinstance(node, dict) or node.get("type") != "Feature":
        raise ValidationError(f"{path}: expected a Feature")
    properties = node.get("properties", None)
    if properties is not None and not isinstance(properties, dict):
        raise ValidationError(f"{path}.properties: expected an object or null")
    _check_geometry(node.get("geometry"), f"{path}.geometry")


def _check_geometry(node: Any, path: str) -> None:
    if not isinstance(node, dict) or node.get("type") not in _GEOMETRY_TYPES:
        raise ValidationError(f"{path}: expected a geometry of type {sorted(_GEOMETRY_TYPES)}")
    kind = node["type"]
    coordinates = node.get("coordinates")
    where = f"{path}.coordinates"
    if kind == "Point":
        _check_position(coordinates, where)
    elif kind in ("MultiPoint", "LineString"):
        _check_positions(coordinates, where, minimum=2 if kind == "LineString" else 1)
    elif kind == "MultiLineString":
        for i, line in enumerate(_as_list(coordinates, where)):
            _check_positions(line, f"{where}[{i}]", minimum=2)
    elif kind == "Polygon":
        _check_polygon(coordinates, where)
    else:
        for i, polygon in enumerate(_as_list(coordinates, where)):
            _check_polygon(polygon, f"{where}[{i}]")


def _check_polygon(rings: Any, path: str) -> None:
    rings = _as_list(rings, path)
    if not rings:
        raise ValidationError(f"{path}: a polygon needs at least one ring")
    for i, ring in enumerate(rings):
        where = f"{path}[{i}]"
        _check_positions(ring, where, minimum=4)
        if list(ring[0]) != list(ring[-1]):
            raise ValidationError(f"{where}: a polygon ring must end where it starts")


def _check_positions(positions: Any, path: str, *, minimum: int) -> None:
    positions = _as_list(positions, path)
    if len(positions) < minimum:
        raise ValidationError(f"{path}: needs at least {minimum} positions, got {len(positions)}")
    for i, position in enumerate(positions):
        _check_position(position, f"{path}[{i}]")


def _check_position(position: Any, path: str) -> None:
    if not isinstance(position, list) or len(position) not in (2, 3):
        raise ValidationError(f"{path}: a position is [x, y] or [x, y, z]")
    for value in position:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValidationError(f"{path}: coordinates must be finite numbers, got {value!r}")


def _as_list(node: Any, path: str) -> list[Any]:
    if not isinstance(node, list):
        raise ValidationError(f"{path}: expected a list")
    return node
