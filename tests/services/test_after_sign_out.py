"""A slide scanned after its case was signed out reaches the pathologist who signed it out:
marked in the case's slide listing, listed at GET /worklist/after-sign-out until an addendum
is written after it. Real database, real scan registration (the import's and upload's own
operation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.schemas.common import DEFAULT_PAGE_LIMIT
from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import Person, make_case, manager, pathologist, post
from worklist.actor import Actor
from worklist.labels import SlideLabels
from worklist.operations import PyramidTarget, register_scan

REPORT = {
    "macroscopy": "",
    "microscopy": "",
    "conclusion": "Tubulair adenoom.",
    "diagnosis_codes": [],
}


def get(service: ServiceHarness, path: str, who: Person) -> Any:
    answer = service.client.get(path, headers=who.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def signed_out_case(service: ServiceHarness, who: Person) -> int:
    """A case of HMC that ``who`` claimed, reported and signed out."""
    case_id = make_case(service, "HMC")
    assert post(service, f"/cases/{case_id}/claim", who).status_code == 200
    answer = service.client.put(f"/cases/{case_id}/report", json=REPORT, headers=who.headers)
    assert answer.status_code == 200, answer.text
    assert post(service, f"/cases/{case_id}/sign-out", who).status_code == 200
    return case_id


def scan_later(service: ServiceHarness, case_id: int, block: str, stain: str, delay_s: int) -> int:
    """A new slide scanned ``delay_s`` seconds from now (after the sign-out); its id."""
    registered = register_scan(
        engine=service.engine,
        actor=Actor.system(),
        case_id=case_id,
        labels=SlideLabels(specimen=block[0], block=block, stain=stain),
        file_path=Path("/slides") / f"{case_id}-{block}-{stain}.svs",
        origin="import",
        locate_pyramid=lambda slide_id: PyramidTarget(output_dir=f"/p/{slide_id}", name="slide"),
        now=datetime.now(UTC) + timedelta(seconds=delay_s),
    )
    return registered.slide_id


def test_a_late_slide_is_marked_listed_and_settled_by_an_addendum(
    service: ServiceHarness,
) -> None:
    mulder = pathologist(service, "HMC-01")
    colleague = pathologist(service, "HMC-03")
    case_id = signed_out_case(service, mulder)
    untouched = signed_out_case(service, mulder)  # signed out, nothing came after
    assert get(service, "/worklist/after-sign-out", mulder)["items"] == []

    late = scan_later(service, case_id, "A2", "MMR", delay_s=5)
    slides = get(service, f"/cases/{case_id}/slides", mulder)["items"]
    assert {s["id"]: s["after_sign_out"] for s in slides} == {
        slides[0]["id"]: False,
        late: True,
    }
    assert all(
        not s["after_sign_out"] for s in get(service, f"/cases/{untouched}/slides", mulder)["items"]
    )

    page = get(service, "/worklist/after-sign-out", mulder)
    assert set(page) == {"items", "limit", "next", "total"}
    assert page["total"] == 1
    [item] = page["items"]
    assert item["case_id"] == case_id
    assert item["slide_id"] == late
    assert (item["specimen_label"], item["block_label"], item["stain"]) == ("A", "A2", "MMR")
    assert item["scanned_at"] > item["signed_out_at"]
    assert item["accession_number"].startswith("HMC-")
    # only the pathologist who signed it out
    assert get(service, "/worklist/after-sign-out", colleague)["items"] == []

    # an addendum (by anyone) after the slide settles it; a later slide comes back
    written = post(service, f"/cases/{case_id}/report/addenda", colleague, {"body": "MMR intact."})
    assert written.status_code == 201, written.text
    # the scan above is 5 s in the future: an addendum now is before it, so it stays
    assert [i["slide_id"] for i in get(service, "/worklist/after-sign-out", mulder)["items"]] == [
        late
    ]
    early = scan_later(service, untouched, "A3", "PAS", delay_s=-3600)  # "before" sign-out
    assert not [
        s
        for s in get(service, f"/cases/{untouched}/slides", mulder)["items"]
        if s["after_sign_out"]
    ], early


def test_an_addendum_after_the_slide_clears_it(service: ServiceHarness) -> None:
    mulder = pathologist(service, "HMC-01")
    case_id = signed_out_case(service, mulder)
    first = scan_later(service, case_id, "A2", "MMR", delay_s=0)
    second = scan_later(service, case_id, "A3", "PAS", delay_s=0)
    listed = get(service, "/worklist/after-sign-out?limit=1", mulder)
    assert [i["slide_id"] for i in listed["items"]] == [first]
    assert listed["total"] == 2 and listed["next"]
    rest = get(service, f"/worklist/after-sign-out?limit=1&cursor={listed['next']}", mulder)
    assert [i["slide_id"] for i in rest["items"]] == [second] and rest["next"] is None

    written = post(service, f"/cases/{case_id}/report/addenda", mulder, {"body": "Aanvulling."})
    assert written.status_code == 201, written.text
    assert get(service, "/worklist/after-sign-out", mulder) == {
        "items": [],
        "limit": DEFAULT_PAGE_LIMIT,
        "next": None,
        "total": 0,
    }
    # the slide listing still says when it came: that is history, not a task
    flags = {
        s["id"]: s["after_sign_out"]
        for s in get(service, f"/cases/{case_id}/slides", mulder)["items"]
    }
    assert flags[first] and flags[second]


def test_who_may_ask(service: ServiceHarness) -> None:
    boss = manager(service)
    answer = service.client.get("/worklist/after-sign-out", headers=boss.headers)
    assert answer.status_code == 403
    assert "pathologist" in answer.json()["detail"]
    assert service.client.get("/worklist/after-sign-out").status_code == 401
    mulder = pathologist(service, "HMC-01")
    bad = service.client.get("/worklist/after-sign-out?cursor=nonsense", headers=mulder.headers)
    assert bad.status_code == 422
    bad = service.client.get("/worklist/after-sign-out?limit=0", headers=mulder.headers)
    assert bad.status_code == 422
