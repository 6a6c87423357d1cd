"""What an annotation may hold: RFC 7946 GeoJSON in slide level-0 pixels, bounded and valid.

An annotation is a Feature, a FeatureCollection of Features, or a bare Geometry of the types
in :data:`GEOMETRY_TYPES` (a rectangle is a Polygon). :func:`validate_geojson` checks, in
this order, so that the cheap checks bound the expensive ones:

1. size: the text is at most ``max_bytes`` (before it is parsed);
2. structure: types, nesting, closed rings, enough positions per part;
3. positions: ``[x, y]`` of finite numbers (JSON may smuggle NaN or ``1e999`` in), at most
   ``max_vertices`` of them, inside the slide (``0 <= x <= width_px``, ``0 <= y <= height_px``:
   pixel edges, so a polygon round the whole slide fits);
4. geometry: each geometry is valid in the OGC sense, checked by shapely; a self-intersecting
   polygon is refused with shapely's reason (``Self-intersection[50 50]``).

Errors name the offending place as a path, e.g. ``$.features[2].geometry.coordinates[0][3]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from worklist.errors import ValidationError

GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)
# The tissue classes a pathologist marks most; a deployment sets its own (settings).
DEFAULT_ANNOTATION_CLASSES = ("tumour", "stroma", "necrosis", "inflammation", "normal", "other")
DEFAULT_MAX_VERTICES = 25_000
DEFAULT_MAX_BYTES = 512 * 1024
DEFAULT_MAX_PER_SLIDE = 2_000
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True, slots=True)
class SlideBounds:
    """A slide's level-0 size, the plane annotation coordinates live in."""

    width_px: int
    height_px: int


@dataclass(frozen=True, slots=True)
class AnnotationRules:
    """The limits on one annotation and on a slide's annotations, and the classes to pick from.

    ``classes`` empty: annotations carry no class. A ``max_per_slide`` counts the annotations
    not deleted.
    """

    max_vertices: int = DEFAULT_MAX_VERTICES
    max_bytes: int = DEFAULT_MAX_BYTES
    max_per_slide: int = DEFAULT_MAX_PER_SLIDE
    classes: tuple[str, ...] = DEFAULT_ANNOTATION_CLASSES

    def check_class(self, class_name: str) -> None:
        """Refuse a class that is not one of :attr:`classes` ("" is no class, always fine)."""
        if class_name and class_name not in self.classes:
            known = ", ".join(self.classes) or "none are configured"
            raise ValidationError(f"unknown annotation class {class_name!r}; known: {known}")


def validate_geojson(
    text: str, *, bounds: SlideBounds | None = None, rules: AnnotationRules | None = None
) -> dict[str, Any]:
    """Parse ``text`` and check it as the module docstring says; return the parsed document.

    ``bounds`` None checks positions for finiteness only (a caller that cannot know the
    slide's size decides whether that is acceptable). Raises :class:`ValidationError` naming
    the offending path.
    """
    rules = rules or AnnotationRules()
    size_bytes = len(text.encode())
    if size_bytes > rules.max_bytes:
        raise ValidationError(
            f"annotation GeoJSON is {size_bytes} bytes; at most {rules.max_bytes} are accepted"
        )
    try:
        document = json.loads(text)
        # Python's parser takes NaN and Infinity, and reads 1e999 as infinity: none is JSON,
        # and no answer could carry one back, wherever it sits (a property, a bbox).
        json.dumps(document, allow_nan=False)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValidationError(f"annotation is not JSON: {exc}") from None
    except ValueError:
        raise ValidationError(
            "annotation holds NaN, Infinity or a number too large: numbers must be finite"
        ) from None
    checker = _Checker(bounds=bounds, max_vertices=rules.max_vertices)
    checker.check_object(document, "$")
    for path, geometry in checker.geometries:
        _check_validity(geometry, path)
    return dict(document)


class _Checker:
    """One walk over a document: structure and positions, collecting geometries to validate."""

    def __init__(self, *, bounds: SlideBounds | None, max_vertices: int) -> None:
        self.bounds = bounds
        self.max_vertices = max_vertices
        self.vertex_count = 0
        self.geometries: list[tuple[str, dict[str, Any]]] = []

    def check_object(self, node: Any, path: str) -> None:
        if not isinstance(node, dict):
            raise ValidationError(f"{path}: expected a GeoJSON object")
        kind = node.get("type")
        if kind == "FeatureCollection":
            features = _as_list(node.get("features"), f"{path}.features")
            if not features:
                raise ValidationError(f"{path}.features: an annotation needs at least one")
            for i, feature in enumerate(features):
                self.check_feature(feature, f"{path}.features[{i}]")
        elif kind == "Feature":
            self.check_feature(node, path)
        elif kind in GEOMETRY_TYPES:
            self.check_geometry(node, path)
        else:
            raise ValidationError(f"{path}.type: unsupported GeoJSON type {kind!r}")

    def check_feature(self, node: Any, path: str) -> None:
        if not isinstance(node, dict) or node.get("type") != "Feature":
            raise ValidationError(f"{path}: expected a Feature")
        properties = node.get("properties", None)
        if properties is not None and not isinstance(properties, dict):
            raise ValidationError(f"{path}.properties: expected an object or null")
        self.check_geometry(node.get("geometry"), f"{path}.geometry")

    def check_geometry(self, node: Any, path: str) -> None:
        if not isinstance(node, dict) or node.get("type") not in GEOMETRY_TYPES:
            raise ValidationError(f"{path}: expected a geometry of type {sorted(GEOMETRY_TYPES)}")
        kind = node["type"]
        coordinates = node.get("coordinates")
        where = f"{path}.coordinates"
        if kind == "Point":
            self.check_position(coordinates, where)
        elif kind in ("MultiPoint", "LineString"):
            self.check_positions(coordinates, where, minimum=2 if kind == "LineString" else 1)
        elif kind == "MultiLineString":
            for i, line in enumerate(_as_list(coordinates, where)):
                self.check_positions(line, f"{where}[{i}]", minimum=2)
        elif kind == "Polygon":
            self.check_polygon(coordinates, where)
        else:
            for i, polygon in enumerate(_as_list(coordinates, where)):
                self.check_polygon(polygon, f"{where}[{i}]")
        if kind != "Point":
            self.geometries.append((path, node))

    def check_polygon(self, rings: Any, path: str) -> None:
        rings = _as_list(rings, path)
        if not rings:
            raise ValidationError(f"{path}: a polygon needs at least one ring")
        for i, ring in enumerate(rings):
            where = f"{path}[{i}]"
            self.check_positions(ring, where, minimum=4)
            if ring[0] != ring[-1]:
                raise ValidationError(f"{where}: a polygon ring must end where it starts")

    def check_positions(self, positions: Any, path: str, *, minimum: int) -> None:
        positions = _as_list(positions, path)
        if len(positions) < minimum:
            raise ValidationError(
                f"{path}: needs at least {minimum} positions, got {len(positions)}"
            )
        self.count_vertices(len(positions))
        # The hot loop of a large annotation: a path is only spelt out for an error.
        for i, position in enumerate(positions):
            if not self.fits(position):
                self.refuse_position(position, f"{path}[{i}]")

    def check_position(self, position: Any, path: str) -> None:
        self.count_vertices(1)
        if not self.fits(position):
            self.refuse_position(position, path)

    def count_vertices(self, count: int) -> None:
        self.vertex_count += count
        if self.vertex_count > self.max_vertices:
            raise ValidationError(
                f"annotation has more than {self.max_vertices} vertices, the most accepted"
            )

    def fits(self, position: Any) -> bool:
        """Whether ``position`` is ``[x, y]`` of numbers inside the bounds. Exact types: a
        bool is no coordinate. Non-finite floats never get here (see validate_geojson)."""
        if type(position) is not list or len(position) != 2:
            return False
        x, y = position
        if type(x) not in _NUMBER_TYPES or type(y) not in _NUMBER_TYPES:
            return False
        bounds = self.bounds
        return bounds is None or (0 <= x <= bounds.width_px and 0 <= y <= bounds.height_px)

    def refuse_position(self, position: Any, path: str) -> NoReturn:
        if type(position) is not list or len(position) != 2:
            raise ValidationError(f"{path}: a position is [x, y] in slide level-0 pixels")
        for value in position:
            if type(value) not in _NUMBER_TYPES:
                raise ValidationError(f"{path}: coordinates must be finite numbers, got {value!r}")
        assert self.bounds is not None
        x, y = position
        raise ValidationError(
            f"{path}: [{x}, {y}] lies outside the slide (0-{self.bounds.width_px} x "
            f"0-{self.bounds.height_px} px at level 0)"
        )


def _check_validity(geometry: dict[str, Any], path: str) -> None:
    try:
        parsed = shape(geometry)
    except (ValueError, TypeError, OverflowError, shapely.errors.ShapelyError) as exc:
        raise ValidationError(f"{path}: not a geometry: {exc}") from None
    if not parsed.is_valid:
        raise ValidationError(
            f"{path}: the {geometry['type']} is not valid: {explain_validity(parsed)}"
        )


def _as_list(node: Any, path: str) -> list[Any]:
    if not isinstance(node, list):
        raise ValidationError(f"{path}: expected a list")
    return node
