"""Annotations on slides: bounded, valid GeoJSON, paged, edited and deleted by version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.app import create_app
from services.settings import Settings
from tests.services.audit_support import slide_opens
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import new_case
from tests.services.worklist_api_support import (
    Person,
    admin,
    audit_events,
    first_slide,
    make_case,
    manager,
    pathologist,
)
from tiling.samples import ensure_synthetic_slide
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AuditOutcome, Role
from worklist.models import Annotation, Slide
from worklist.operations.notes import add_annotation
from worklist.region import default_region
from worklist.seeding import import_region

# The slide every test draws on: 1999 x 1001 px at level 0.
WIDTH_PX, HEIGHT_PX = 1999, 1001
SQUARE: dict[str, Any] = {
    "type": "Feature",
    "properties": {"kind": "tumour"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]]],
    },
}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [100, 100], [100, 0], [0, 100], [0, 0]]]}


def scanned_slide(service: ServiceHarness, department: str = "HMC") -> int:
    """A slide of a new case in ``department`` whose image is a real 1999 x 1001 px TIFF."""
    slide_file = ensure_synthetic_slide("generic-tiff", WIDTH_PX, HEIGHT_PX)
    return first_slide(service, new_case(service, department, file_path=slide_file).case_id)


@pytest.fixture
def mulder(service: ServiceHarness) -> Person:
    return pathologist(service, "HMC-01")


@pytest.fixture
def slide_id(service: ServiceHarness) -> int:
    return scanned_slide(service)


def path_of(slide_id: int, annotation_id: int | None = None) -> str:
    base = f"/slides/{slide_id}/annotations"
    return base if annotation_id is None else f"{base}/{annotation_id}"


def post(service: ServiceHarness, path: str, who: Person, body: Any) -> Any:
    return service.client.post(path, json=body, headers=who.headers)


def draw(service: ServiceHarness, slide_id: int, who: Person, **body: Any) -> dict[str, Any]:
    made = post(service, path_of(slide_id), who, {"geojson": SQUARE, **body})
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def patch(
    service: ServiceHarness, slide_id: int, who: Person, annotation: dict[str, Any], **body: Any
) -> Any:
    return service.client.patch(
        path_of(slide_id, annotation["id"]),
        json=body,
        headers={**who.headers, "If-Match": f'"{annotation["version"]}"'},
    )


def delete(
    service: ServiceHarness, slide_id: int, who: Person, annotation_id: int, version: Any
) -> Any:
    headers = dict(who.headers)
    if version is not None:
        headers["If-Match"] = str(version)
    return service.client.delete(path_of(slide_id, annotation_id), headers=headers)


def listed(service: ServiceHarness, slide_id: int, who: Person, **params: Any) -> dict[str, Any]:
    answer = service.client.get(path_of(slide_id), params=params, headers=who.headers)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


def stored(service: ServiceHarness, annotation_id: int) -> Annotation:
    with read_session(service.engine) as session:
        return session.get_one(Annotation, annotation_id)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ServiceHarness]:
    """A service with small annotation limits: 20 vertices, 2 KB, 2 a slide, two classes."""
    settings = Settings(
        data_dir=tmp_path / "limited",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
        annotation_max_vertices=20,
        annotation_max_bytes=2_000,
        annotation_max_per_slide=2,
        annotation_classes=("tumour", "dcis"),
    )
    with TestClient(create_app(settings)) as client:
        harness = ServiceHarness(client, settings)
        import_region(engine=harness.engine, actor=Actor.system(), region=default_region())
        yield harness


# --- Storing and listing -----------------------------------------------------------------------


def test_annotations_are_stored_and_listed(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = post(
        service,
        path_of(slide_id),
        mulder,
        {"label": "<b>tumour</b> front", "class_name": "tumour", "geojson": SQUARE},
    )
    assert made.status_code == 201, made.text
    annotation = made.json()
    assert made.headers["ETag"] == '"1"'
    assert (annotation["slide_id"], annotation["author"], annotation["version"]) == (
        slide_id,
        "hmc-01",
        1,
    )
    # Free text comes back as the text it was, not interpreted.
    assert (annotation["label"], annotation["class_name"]) == ("<b>tumour</b> front", "tumour")
    assert annotation["geojson"] == SQUARE
    point = {"type": "Point", "coordinates": [5.5, 7]}
    assert post(service, path_of(slide_id), mulder, {"geojson": point}).status_code == 201
    page = listed(service, slide_id, mulder)
    assert [a["geojson"]["type"] for a in page["items"]] == ["Feature", "Point"]
    assert (page["total"], page["limit"], page["next"]) == (2, 100, None)
    one = service.client.get(path_of(slide_id, annotation["id"]), headers=mulder.headers)
    assert one.json() == annotation
    assert one.headers["ETag"] == '"1"'
    assert len(audit_events(service, "slide.annotate")) == 2


@pytest.mark.parametrize(
    "geojson",
    [
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "Point", "coordinates": [WIDTH_PX, HEIGHT_PX]},  # the far corner's edge
        {"type": "LineString", "coordinates": [[10, 10], [500, 900], [1999, 0]]},
        {"type": "MultiPoint", "coordinates": [[1, 1], [2, 2]]},
        {"type": "MultiLineString", "coordinates": [[[0, 0], [5, 5]], [[9, 9], [9, 20]]]},
        {
            "type": "Polygon",  # a rectangle round the whole slide, with a hole
            "coordinates": [
                [[0, 0], [WIDTH_PX, 0], [WIDTH_PX, HEIGHT_PX], [0, HEIGHT_PX], [0, 0]],
                [[10, 10], [20, 10], [20, 20], [10, 20], [10, 10]],
            ],
        },
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
                [[[5, 5], [7, 5], [7, 7], [5, 7], [5, 5]]],
            ],
        },
        {"type": "FeatureCollection", "features": [SQUARE, {**SQUARE, "properties": None}]},
    ],
)
def test_every_supported_geometry_is_stored(
    service: ServiceHarness, mulder: Person, slide_id: int, geojson: dict[str, Any]
) -> None:
    assert draw(service, slide_id, mulder, geojson=geojson)["geojson"] == geojson


@pytest.mark.parametrize(
    "geojson",
    [
        {"type": "Circle", "coordinates": [0, 0]},
        {"type": "GeometryCollection", "geometries": []},
        {"type": "Point", "coordinates": [0]},
        {"type": "Point", "coordinates": [1, 2, 3]},  # no altitude on a slide
        {"type": "Point", "coordinates": ["a", "b"]},
        {"type": "Point", "coordinates": [True, 1]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 2]]]},  # not closed
        {"type": "LineString", "coordinates": [[0, 0]]},
        {"type": "LineString", "coordinates": [[3, 3], [3, 3]]},  # no length
        {"type": "FeatureCollection", "features": []},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
        {"type": "Feature", "properties": 3, "geometry": {"type": "Point", "coordinates": [1, 1]}},
        {},
    ],
)
def test_malformed_geojson_is_refused(
    service: ServiceHarness, mulder: Person, slide_id: int, geojson: dict[str, Any]
) -> None:
    answer = post(service, path_of(slide_id), mulder, {"geojson": geojson})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    assert listed(service, slide_id, mulder)["items"] == []


@pytest.mark.parametrize(
    ("geojson", "reason"),
    [
        (BOWTIE, "Self-intersection[50 50]"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[0, 0], [9, 0], [9, 9], [0, 0]],
                    [[50, 50], [60, 50], [60, 60], [50, 50]],
                ],
            },
            "Hole lies outside shell",
        ),
        (
            {
                "type": "MultiPolygon",  # two overlapping squares
                "coordinates": [
                    [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
                    [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]],
                ],
            },
            "Self-intersection",
        ),
    ],
)
def test_invalid_geometry_is_refused_with_the_reason(
    service: ServiceHarness, mulder: Person, slide_id: int, geojson: dict[str, Any], reason: str
) -> None:
    answer = post(service, path_of(slide_id), mulder, {"geojson": geojson})
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["detail"]


@pytest.mark.parametrize(
    "position",
    [[WIDTH_PX + 0.5, 10], [10, HEIGHT_PX + 1], [-1, 10], [10, -0.001], [1e308, 1], [10**30, 1]],
)
def test_coordinates_outside_the_slide_are_refused(
    service: ServiceHarness, mulder: Person, slide_id: int, position: list[float]
) -> None:
    answer = post(
        service, path_of(slide_id), mulder, {"geojson": {"type": "Point", "coordinates": position}}
    )
    assert answer.status_code == 422, answer.text
    assert "outside the slide (0-1999 x 0-1001 px" in answer.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"geojson": {"type": "Point", "coordinates": [NaN, 1]}}',
        b'{"geojson": {"type": "Point", "coordinates": [Infinity, 1]}}',
        b'{"geojson": {"type": "Point", "coordinates": [1e999, 1]}}',
        b'{"geojson": {"type": "Point", "coordinates": [-1e999, 1]}}',
        # Not a coordinate, but no valid JSON could carry it back either.
        b'{"geojson": {"type": "Feature", "properties": {"area": 1e999},'
        b' "geometry": {"type": "Point", "coordinates": [1, 1]}}}',
    ],
)
def test_non_finite_numbers_are_refused(
    service: ServiceHarness, mulder: Person, slide_id: int, raw: bytes
) -> None:
    answer = service.client.post(
        path_of(slide_id),
        content=raw,
        headers={**mulder.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert listed(service, slide_id, mulder)["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"geojson": [1, 2]},
        {"geojson": "POINT (1 2)"},
        {"label": "x" * 201, "geojson": SQUARE},
        {"label": "tab\tbed", "geojson": SQUARE},
        {"class_name": "x" * 65, "geojson": SQUARE},
        {"geojson": SQUARE, "colour": "red"},
        {},
    ],
)
def test_malformed_bodies_are_refused(
    service: ServiceHarness, mulder: Person, slide_id: int, body: dict[str, Any]
) -> None:
    assert post(service, path_of(slide_id), mulder, body).status_code == 422


def test_a_slide_without_an_image_takes_no_annotations(
    service: ServiceHarness, mulder: Person
) -> None:
    unscanned = first_slide(service, make_case(service, "HMC", scanned=False))
    answer = post(service, path_of(unscanned), mulder, {"geojson": SQUARE})
    assert answer.status_code == 409, answer.text
    assert "has no image yet" in answer.json()["detail"]
    gone = first_slide(service, make_case(service, "HMC"))  # its file was never there
    assert post(service, path_of(gone), mulder, {"geojson": SQUARE}).status_code == 410
    assert listed(service, unscanned, mulder)["items"] == []
    # One drawn before the file went: its label can still be edited, its shape not.
    earlier = add_annotation(
        engine=service.engine, actor=mulder_actor(), slide_id=gone, geojson=json.dumps(SQUARE)
    )
    drawn = {"id": earlier, "version": 1}
    assert patch(service, gone, mulder, drawn, label="re-scan").status_code == 200
    assert patch(service, gone, mulder, {**drawn, "version": 2}, geojson=SQUARE).status_code == 410
    assert stored(service, earlier).version == 2


def mulder_actor() -> Actor:
    return Actor(user_id="hmc-01", role=Role.PATHOLOGIST, site="HMC")


# --- Limits ------------------------------------------------------------------------------------


def test_an_annotation_has_at_most_the_vertices_and_bytes_of_the_settings(
    limited: ServiceHarness,
) -> None:
    mulder = pathologist(limited, "HMC-01")
    slide_id = scanned_slide(limited)
    ring = [[x, 0] for x in range(0, 20)] + [[10, 50], [0, 0]]  # 22 positions
    answer = post(
        limited, path_of(slide_id), mulder, {"geojson": {"type": "Polygon", "coordinates": [ring]}}
    )
    assert answer.status_code == 422
    assert "more than 20 vertices" in answer.json()["detail"]
    fat = {**SQUARE, "properties": {"note": "x" * 2_000}}
    answer = post(limited, path_of(slide_id), mulder, {"geojson": fat})
    assert answer.status_code == 422
    assert "at most 2000 are accepted" in answer.json()["detail"]
    assert listed(limited, slide_id, mulder)["total"] == 0


def test_a_slide_has_at_most_the_annotations_of_the_settings(limited: ServiceHarness) -> None:
    mulder = pathologist(limited, "HMC-01")
    slide_id = scanned_slide(limited)
    first = draw(limited, slide_id, mulder)
    draw(limited, slide_id, mulder)
    refused = post(limited, path_of(slide_id), mulder, {"geojson": SQUARE})
    assert refused.status_code == 409
    assert "has 2 annotations, the most a slide may have" in refused.json()["detail"]
    # Another slide has room of its own, and a deleted annotation frees its place.
    draw(limited, scanned_slide(limited), mulder)
    assert delete(limited, slide_id, mulder, first["id"], 1).status_code == 204
    draw(limited, slide_id, mulder)


def test_the_class_is_one_of_the_settings(limited: ServiceHarness) -> None:
    mulder = pathologist(limited, "HMC-01")
    slide_id = scanned_slide(limited)
    assert draw(limited, slide_id, mulder, class_name="dcis")["class_name"] == "dcis"
    refused = post(limited, path_of(slide_id), mulder, {"class_name": "stroma", "geojson": SQUARE})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "unknown annotation class 'stroma'; known: tumour, dcis"


def test_the_classes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().annotation_rules.classes == (
        "tumour",
        "stroma",
        "necrosis",
        "inflammation",
        "normal",
        "other",
    )
    monkeypatch.setenv("COUPE_ANNOTATION_CLASSES", "tumour, DCIS ,lymph node")
    assert Settings().annotation_rules.classes == ("tumour", "DCIS", "lymph node")
    monkeypatch.setenv("COUPE_ANNOTATION_CLASSES", '["a, b", "c"]')
    assert Settings().annotation_rules.classes == ("a, b", "c")


# --- Paging and audit --------------------------------------------------------------------------


def test_the_listing_is_paged(service: ServiceHarness, mulder: Person, slide_id: int) -> None:
    made = [draw(service, slide_id, mulder, label=f"n{i}")["id"] for i in range(5)]
    first = listed(service, slide_id, mulder, limit=2)
    assert [a["id"] for a in first["items"]] == made[:2]
    assert (first["total"], first["limit"]) == (5, 2)
    second = listed(service, slide_id, mulder, limit=2, cursor=first["next"])
    assert [a["id"] for a in second["items"]] == made[2:4]
    last = listed(service, slide_id, mulder, limit=2, cursor=second["next"])
    assert ([a["id"] for a in last["items"]], last["next"]) == (made[4:], None)
    for bad in ({"limit": 201}, {"limit": 0}, {"cursor": "bm90LWEtY3Vyc29y"}):
        answer = service.client.get(path_of(slide_id), params=bad, headers=mulder.headers)
        assert answer.status_code == 422, bad


def test_reading_annotations_is_audited_once_per_session(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = draw(service, slide_id, mulder)
    assert slide_opens(service, slide_id) == 0  # drawing is audited as drawing
    listed(service, slide_id, mulder)
    listed(service, slide_id, mulder, limit=1)
    service.client.get(path_of(slide_id, made["id"]), headers=mulder.headers)
    assert slide_opens(service, slide_id) == 1
    again = pathologist(service, "HMC-02")  # another user's session opens it anew
    listed(service, slide_id, again)
    assert slide_opens(service, slide_id) == 2


# --- Editing and deleting ----------------------------------------------------------------------


def test_an_edit_needs_the_version_it_was_made_from(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = draw(service, slide_id, mulder, label="tumour")
    edited = patch(service, slide_id, mulder, made, label="tumour, invasive", class_name="tumour")
    assert edited.status_code == 200, edited.text
    assert edited.headers["ETag"] == '"2"'
    body = edited.json()
    assert (body["label"], body["class_name"], body["version"]) == ("tumour, invasive", "tumour", 2)
    assert (body["updated_by"], body["geojson"]) == ("hmc-01", SQUARE)
    # The same edit from the old read is refused, naming the version there is now.
    stale = patch(service, slide_id, mulder, made, label="necrosis")
    assert stale.status_code == 409
    assert stale.json()["error"] == "concurrent_update"
    assert "is at version 2, not 1" in stale.json()["detail"]
    assert stored(service, made["id"]).label == "tumour, invasive"
    # A bare version works as well as the ETag; no If-Match, or a wildcard, is refused.
    url = path_of(slide_id, made["id"])
    bare = service.client.patch(
        url, json={"label": "x"}, headers={**mulder.headers, "If-Match": "2"}
    )
    assert bare.status_code == 200
    for headers in ({}, {"If-Match": "*"}, {"If-Match": 'W/"3"'}, {"If-Match": "three"}):
        answer = service.client.patch(
            url, json={"label": "y"}, headers={**mulder.headers, **headers}
        )
        assert answer.status_code == 422, headers
    assert stored(service, made["id"]).version == 3


def test_two_editors_never_lose_each_others_changes(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = draw(service, slide_id, mulder)
    boss = manager(service)
    triangle = {"type": "Polygon", "coordinates": [[[0, 0], [50, 0], [50, 50], [0, 0]]]}
    moved = {**SQUARE, "geometry": triangle}
    assert patch(service, slide_id, boss, made, geojson=moved).status_code == 200
    mine = patch(service, slide_id, mulder, made, label="mine")
    assert mine.status_code == 409
    reread = service.client.get(path_of(slide_id, made["id"]), headers=mulder.headers).json()
    assert reread["geojson"] == moved and reread["version"] == 2
    assert patch(service, slide_id, mulder, reread, label="mine").json()["geojson"] == moved


def test_a_new_geometry_is_checked_like_a_first_one(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = draw(service, slide_id, mulder)
    for geojson in (BOWTIE, {"type": "Point", "coordinates": [WIDTH_PX + 1, 0]}):
        assert patch(service, slide_id, mulder, made, geojson=geojson).status_code == 422
    assert patch(service, slide_id, mulder, made, class_name="carcinoid").status_code == 422
    assert patch(service, slide_id, mulder, made).status_code == 422  # nothing to change
    assert stored(service, made["id"]).version == 1


def test_only_the_author_or_a_lab_manager_may_change_one(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = draw(service, slide_id, mulder)
    colleague = pathologist(service, "HMC-02")  # may see the slide, but did not draw this
    refused = patch(service, slide_id, colleague, made, label="mine now")
    assert refused.status_code == 403
    assert "only its author or a lab manager" in refused.json()["detail"]
    assert delete(service, slide_id, colleague, made["id"], 1).status_code == 403
    assert stored(service, made["id"]).label == ""
    refusals = [
        (e.event_type, e.outcome, e.user_id, e.slide_id)
        for e in audit_events(service, "slide.annotation.update")
        + audit_events(service, "slide.annotation.delete")
    ]
    assert refusals == [
        ("slide.annotation.update", AuditOutcome.SERIOUS_FAILURE, "hmc-02", slide_id),
        ("slide.annotation.delete", AuditOutcome.SERIOUS_FAILURE, "hmc-02", slide_id),
    ]
    boss = manager(service)
    assert patch(service, slide_id, boss, made, label="checked").status_code == 200
    root = admin(service)
    assert delete(service, slide_id, root, made["id"], 2).status_code == 204


def test_a_deleted_annotation_leaves_the_listing_but_not_the_trail(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    kept = draw(service, slide_id, mulder)
    gone = draw(service, slide_id, mulder, label="wrong place")
    assert delete(service, slide_id, mulder, gone["id"], None).status_code == 422
    stale = delete(service, slide_id, mulder, gone["id"], 7)
    assert stale.status_code == 409 and "is at version 1, not 7" in stale.json()["detail"]
    answer = delete(service, slide_id, mulder, gone["id"], '"1"')
    assert answer.status_code == 204 and answer.content == b""
    page = listed(service, slide_id, mulder)
    assert ([a["id"] for a in page["items"]], page["total"]) == ([kept["id"]], 1)
    url = path_of(slide_id, gone["id"])
    assert service.client.get(url, headers=mulder.headers).status_code == 404
    assert patch(service, slide_id, mulder, {**gone, "version": 2}, label="x").status_code == 404
    assert delete(service, slide_id, mulder, gone["id"], 2).status_code == 404
    row = stored(service, gone["id"])
    assert (row.deleted_by, row.label, row.version) == ("hmc-01", "wrong place", 2)
    # The stale attempt is on the trail too, as a refusal; the 404s are not attempts on it.
    stale_attempt, deletion = audit_events(service, "slide.annotation.delete")
    assert stale_attempt.outcome is AuditOutcome.MINOR_FAILURE
    assert deletion.outcome is AuditOutcome.SUCCESS
    assert json.loads(deletion.detail)["annotation_id"] == gone["id"]


REPORT = {"macroscopy": "", "microscopy": "", "conclusion": "Tubulair adenoom."}


def sign_out(service: ServiceHarness, who: Person, slide_id: int) -> None:
    """``who`` claims the slide's case, writes its report and signs it out."""
    with read_session(service.engine) as session:
        case_id = session.get_one(Slide, slide_id).block.specimen.case_id
    assert post(service, f"/cases/{case_id}/claim", who, None).status_code == 200
    report = service.client.put(f"/cases/{case_id}/report", json=REPORT, headers=who.headers)
    assert report.status_code == 200, report.text
    signed = post(service, f"/cases/{case_id}/sign-out", who, None)
    assert signed.status_code == 200, signed.text


def test_a_signed_out_case_s_annotations_are_read_only(
    service: ServiceHarness, mulder: Person, slide_id: int
) -> None:
    made = draw(service, slide_id, mulder, label="front")
    sign_out(service, mulder, slide_id)
    before = audit_events(service, "slide.annotate")
    # Shown as before, to everyone who may see the case.
    assert [a["id"] for a in listed(service, slide_id, mulder)["items"]] == [made["id"]]
    one = service.client.get(path_of(slide_id, made["id"]), headers=mulder.headers)
    assert one.status_code == 200 and one.headers["ETag"] == '"1"'
    # No change by anyone, not even its author or a lab manager: 409 saying why.
    boss = manager(service)
    answers = [
        post(service, path_of(slide_id), mulder, {"geojson": SQUARE}),
        patch(service, slide_id, mulder, made, label="moved"),
        patch(service, slide_id, boss, made, label="moved"),
        delete(service, slide_id, mulder, made["id"], 1),
        delete(service, slide_id, boss, made["id"], 1),
        delete(service, slide_id, mulder, made["id"], 5),  # stale too: signed out comes first
    ]
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "invalid_transition"
        assert "is signed out: its annotations are read-only" in answer.json()["detail"]
    # Nothing changed, and every attempt is on the trail as a refusal against the case.
    with read_session(service.engine) as session:
        rows = list(session.scalars(select(Annotation).where(Annotation.slide_id == slide_id)))
    assert [(a.id, a.label, a.version, a.deleted_at) for a in rows] == [
        (made["id"], "front", 1, None)
    ]
    refusals = (
        audit_events(service, "slide.annotate")[len(before) :]
        + audit_events(service, "slide.annotation.update")
        + audit_events(service, "slide.annotation.delete")
    )
    assert [(e.outcome, e.slide_id, e.case_id is not None) for e in refusals] == [
        (AuditOutcome.MINOR_FAILURE, slide_id, True)
    ] * 6


def test_annotation_access(service: ServiceHarness, mulder: Person, slide_id: int) -> None:
    stranger = pathologist(service, "LUMC-01")
    body = {"geojson": SQUARE}
    assert post(service, path_of(slide_id), stranger, body).status_code == 403
    assert service.client.get(path_of(slide_id), headers=stranger.headers).status_code == 403
    made = draw(service, slide_id, mulder)
    assert (
        service.client.get(path_of(slide_id, made["id"]), headers=stranger.headers).status_code
        == 403
    )
    assert patch(service, slide_id, stranger, made, label="x").status_code == 403
    assert delete(service, slide_id, stranger, made["id"], 1).status_code == 403
    assert stored(service, made["id"]).version == 1
    boss = manager(service)
    assert service.client.get(path_of(slide_id), headers=boss.headers).status_code == 200
    assert post(service, "/slides/9999/annotations", mulder, body).status_code == 404
    assert service.client.get("/slides/9999/annotations", headers=mulder.headers).status_code == 404
    other_slide = scanned_slide(service)
    wrong_slide = service.client.get(path_of(other_slide, made["id"]), headers=mulder.headers)
    assert wrong_slide.status_code == 404
    assert patch(service, other_slide, mulder, made, label="x").status_code == 404
    assert service.client.get(path_of(slide_id, 9999), headers=mulder.headers).status_code == 404
    assert service.client.get(path_of(slide_id)).status_code == 401
    assert (
        service.client.get(f"/slides/{2**64}/annotations", headers=mulder.headers).status_code
        == 422
    )


def test_comments(service: ServiceHarness, mulder: Person) -> None:
    case_id = make_case(service, "HMC")
    made = post(service, f"/cases/{case_id}/comments", mulder, {"body": "Recut A1, please.\n"})
    assert made.status_code == 201, made.text
    assert (made.json()["author"], made.json()["case_id"]) == ("hmc-01", case_id)
    comments = service.client.get(f"/cases/{case_id}/comments", headers=mulder.headers).json()
    assert [c["body"] for c in comments["items"]] == ["Recut A1, please.\n"]
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
