"""What an annotation may hold: structure, finite positions inside the slide, valid geometry,
and the limits (worklist.geojson)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from worklist.errors import ValidationError
from worklist.geojson import AnnotationRules, SlideBounds, validate_geojson

SLIDE = SlideBounds(width_px=1000, height_px=500)


def square(x: float, y: float, side: float) -> list[list[float]]:
    return [[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]


def check(document: Any, **options: Any) -> dict[str, Any]:
    return validate_geojson(json.dumps(document), **{"bounds": SLIDE, **options})


@pytest.mark.parametrize(
    "document",
    [
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "Point", "coordinates": [1000, 500]},
        {"type": "Point", "coordinates": [999.75, 0.25]},
        {"type": "MultiPoint", "coordinates": [[1, 1], [1, 1]]},
        {"type": "LineString", "coordinates": [[0, 0], [10, 10], [10, 0], [0, 10]]},  # crossing
        {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]},
        {"type": "Polygon", "coordinates": [square(0, 0, 100), square(10, 10, 5)]},
        {"type": "MultiPolygon", "coordinates": [[square(0, 0, 10)], [square(20, 20, 10)]]},
        {
            "type": "Feature",
            "properties": None,
            "geometry": {"type": "Point", "coordinates": [1, 2]},
        },
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"n": [1, {"deep": True}]}, "geometry": g}
                for g in (
                    {"type": "Point", "coordinates": [1, 2]},
                    {"type": "Polygon", "coordinates": [square(1, 1, 1)]},
                )
            ],
        },
    ],
)
def test_valid_annotations_pass(document: dict[str, Any]) -> None:
    assert check(document) == document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]},
            "$: the Polygon is not valid: Self-intersection[5 5]",
        ),
        (
            {"type": "Polygon", "coordinates": [square(0, 0, 10), square(50, 50, 5)]},
            "Hole lies outside shell",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [5, 5], [10, 10], [0, 0]]]},  # no area
            "the Polygon is not valid",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [[square(0, 0, 10)], [square(5, 5, 10)]]},
            "the MultiPolygon is not valid: Self-intersection",
        ),
        (
            {"type": "LineString", "coordinates": [[4, 4], [4, 4]]},
            "Too few points",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 1]}},
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]],
                        },
                    },
                ],
            },
            "$.features[1].geometry: the Polygon is not valid: Self-intersection",
        ),
    ],
)
def test_invalid_geometry_is_refused_with_shapelys_reason(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("$", r"\$")):
        check(document)


@pytest.mark.parametrize(
    "position",
    [[1000.5, 0], [0, 501], [-0.5, 0], [1e308, 0], [10**400, 0]],  # the last: no float holds it
)
def test_positions_outside_the_slide_are_refused(position: list[float]) -> None:
    with pytest.raises(ValidationError, match=r"lies outside the slide \(0-1000 x 0-500 px"):
        check({"type": "Point", "coordinates": position})


def test_without_bounds_only_finiteness_is_checked() -> None:
    far = {"type": "Polygon", "coordinates": [square(10**6, 10**6, 10**6)]}
    assert check(far, bounds=None) == far
    with pytest.raises(ValidationError, match="not a geometry"):
        check({"type": "LineString", "coordinates": [[0, 0], [10**400, 1]]}, bounds=None)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Point", "coordinates": [NaN, 1]}',
        '{"type": "Point", "coordinates": [1, -Infinity]}',
        '{"type": "Point", "coordinates": [1e999, 1]}',
        '{"type": "Feature", "properties": {"x": NaN}, "geometry": {"type": "Point", '
        '"coordinates": [1, 1]}}',
    ],
)
def test_numbers_that_are_not_finite_are_refused_anywhere(text: str) -> None:
    with pytest.raises(ValidationError, match="must be finite"):
        validate_geojson(text, bounds=SLIDE)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"type": "Point", "coordinates": [1, 2, 3]}, r"a position is \[x, y\]"),
        ({"type": "Point", "coordinates": [True, 2]}, "finite numbers"),
        ({"type": "GeometryCollection", "geometries": []}, "unsupported GeoJSON type"),
        ({"type": "FeatureCollection", "features": []}, "needs at least one"),
        ({"type": "Polygon", "coordinates": []}, "at least one ring"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 2]]]}, "end where"),
        ([1, 2], "expected a GeoJSON object"),
    ],
)
def test_malformed_structures_are_refused(document: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check(document)


def test_deeply_nested_json_is_refused_not_crashed_on() -> None:
    text = '{"type": "Feature", "properties": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    with pytest.raises(ValidationError, match="not JSON"):
        validate_geojson(text, rules=AnnotationRules(max_bytes=len(text)))


def test_the_vertex_limit_counts_every_position() -> None:
    rules = AnnotationRules(max_vertices=10)
    two_squares = {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1)], [square(5, 5, 1)]]}
    assert check(two_squares, rules=rules) == two_squares  # 10 positions
    with pytest.raises(ValidationError, match="more than 10 vertices"):
        check(
            {**two_squares, "coordinates": [*two_squares["coordinates"], [square(9, 9, 1)]]},
            rules=rules,
        )


def test_the_byte_limit_is_checked_before_parsing() -> None:
    text = json.dumps({"type": "Point", "coordinates": [1, 1]})
    assert validate_geojson(text, rules=AnnotationRules(max_bytes=len(text)))
    with pytest.raises(ValidationError, match=f"is {len(text) + 1} bytes; at most {len(text)}"):
        validate_geojson(text + " ", rules=AnnotationRules(max_bytes=len(text)))
    # Bytes, not characters: "µ" takes two.
    with pytest.raises(ValidationError, match="bytes"):
        validate_geojson('"µ"', rules=AnnotationRules(max_bytes=3))


def test_the_class_is_one_of_the_rules() -> None:
    rules = AnnotationRules(classes=("tumour", "stroma"))
    rules.check_class("stroma")
    rules.check_class("")  # no class
    with pytest.raises(ValidationError, match="unknown annotation class 'Tumour'; known: tumour"):
        rules.check_class("Tumour")
    with pytest.raises(ValidationError, match="none are configured"):
        AnnotationRules(classes=()).check_class("tumour")
