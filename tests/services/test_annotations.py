"""Annotations on slides (GeoJSON, validated) and comments on cases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    audit_events,
    first_slide,
    make_case,
    manager,
    pathologist,
)

SQUARE = {
    "type": "Feature",
    "properties": {"kind": "tumour"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]]],
    },
}


@pytest.fixture
def mulder(service: ServiceHarness) -> Person:
    return pathologist(service, "HMC-01")


@pytest.fixture
def slide_id(service: ServiceHarness) -> int:
    return first_slide(service, make_case(service, "HMC"))


def post(service: ServiceHarness, path: str, who: Person, body: Any) -> Any:
    return service.client.post(path, json=body, headers=who.headers)


def test_annotations_are_stored_and_listed(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = post(
        service, f"/slides/{slide_id}/annotations", mulder, {"label": "tumour", "geojson": SQUARE}
    )
    assert made.status_code == 201, made.text
    annotation = made.json()
    assert (annotation["slide_id"], annotation["author"], annotation["label"]) == (
        slide_id,
        "hmc-01",
        "tumour",
    )
    assert annotation["geojson"] == SQUARE
    point = {"type": "Point", "coordinates": [5.5, 7]}
    assert (
        post(service, f"/slides/{slide_id}/annotations", mulder, {"geojson": point}).status_code
        == 201
    )
    listed = service.client.get(f"/slides/{slide_id}/annotations", headers=mulder.headers).json()
    assert [a["geojson"]["type"] for a in listed] == ["Feature", "Point"]
    one = service.client.get(
        f"/slides/{slide_id}/annotations/{annotation['id']}", headers=mulder.headers
    )
    assert one.json() == annotation
    assert len(audit_events(service, "slide.annotate")) == 2


@pytest.mark.parametrize(
    "geojson",
    [
        {"type": "Circle", "coordinates": [0, 0]},
        {"type": "Point", "coordinates": [0]},
        {"type": "Point", "coordinates": ["a", "b"]},
        {"type": "Point", "coordinates": [True, 1]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 2]]]},  # not closed
        {"type": "LineString", "coordinates": [[0, 0]]},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
        {"type": "Feature", "properties": 3, "geometry": {"type": "Point", "coordinates": [1, 1]}},
        {},
    ],
)
def test_malformed_geojson_is_refused(
    service: ServiceHarness, mulder: Person, slide_id: int, geojson: dict[str, Any]
) -> None:
    answer = post(service, f"/slides/{slide_id}/annotations", mulder, {"geojson": geojson})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    assert (
        service.client.get(f"/slides/{slide_id}/annotations", headers=mulder.headers).json() == []
    )


def test_non_finite_coordinates_are_refused(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    answer = service.client.post(
        f"/slides/{slide_id}/annotations",
        content=b'{"geojson": {"type": "Point", "coordinates": [NaN, 1]}}',
        headers={**mulder.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"geojson": [1, 2]},
        {"geojson": "POINT (1 2)"},
        {"label": "x" * 201, "geojson": SQUARE},
        {"label": "tab\tbed", "geojson": SQUARE},
        {},
    ],
)
def test_malformed_bodies_are_refused(
    service: ServiceHarness, mulder: Person, slide_id: int, body: dict[str, Any]
) -> None:
    assert post(service, f"/slides/{slide_id}/annotations", mulder, body).status_code == 422


def test_annotation_access(service: ServiceHarness, mulder: Person, slide_id: int) -> None:
    stranger = pathologist(service, "LUMC-01")
    body = {"geojson": SQUARE}
    assert post(service, f"/slides/{slide_id}/annotations", stranger, body).status_code == 403
    assert (
        service.client.get(f"/slides/{slide_id}/annotations", headers=stranger.headers).status_code
        == 403
    )
    made = post(service, f"/slides/{slide_id}/annotations", mulder, body).json()
    assert (
        service.client.get(
            f"/slides/{slide_id}/annotations/{made['id']}", headers=stranger.headers
        ).status_code
        == 403
    )
    boss = manager(service)
    assert (
        service.client.get(f"/slides/{slide_id}/annotations", headers=boss.headers).status_code
        == 200
    )
    assert post(service, "/slides/9999/annotations", mulder, body).status_code == 404
    assert service.client.get("/slides/9999/annotations", headers=mulder.headers).status_code == 404
    other_slide = first_slide(service, make_case(service, "HMC"))
    wrong_slide = service.client.get(
        f"/slides/{other_slide}/annotations/{made['id']}", headers=mulder.headers
    )
    assert wrong_slide.status_code == 404
    assert (
        service.client.get(
            f"/slides/{slide_id}/annotations/9999", headers=mulder.headers
        ).status_code
        == 404
    )
    assert service.client.get(f"/slides/{slide_id}/annotations").status_code == 401
    assert (
        service.client.get(f"/slides/{2**64}/annotations", headers=mulder.headers).status_code
        == 422
    )


def test_comments(service: ServiceHarness, mulder: Person) -> None:
    case_id = make_case(service, "HMC")
    made = post(service, f"/cases/{case_id}/comments", mulder, {"body": "Recut A1, please.\n"})
    assert made.status_code == 201, made.text
    assert (made.json()["author"], made.json()["case_id"]) == ("hmc-01", case_id)
    listed = service.client.get(f"/cases/{case_id}/comments", headers=mulder.headers).json()
    assert [c["body"] for c in listed] == ["Recut A1, please.\n"]
    assert len(audit_events(service, "case.comment")) == 1
    stranger = pathologist(service, "LUMC-01")
    assert post(service, f"/cases/{case_id}/comments", stranger, {"body": "hi"}).status_code == 403
    assert (
        service.client.get(f"/cases/{case_id}/comments", headers=stranger.headers).status_code
        == 403
    )
    assert post(service, "/cases/999/comments", mulder, {"body": "hi"}).status_code == 404
    for bad in ({"body": ""}, {"body": "x" * 10_001}, {"body": "nul\x00"}, {}, {"body": 3}):
        assert post(service, f"/cases/{case_id}/comments", mulder, bad).status_code == 422, bad
    blank = post(service, f"/cases/{case_id}/comments", mulder, {"body": "   "})
    assert blank.status_code == 422
    assert blank.json()["error"] == "invalid"
