"""A slide that cannot be opened, in Chromium: a case of this test's own pathologist gets two
scans of its own, then one's file is removed from the slide store and the other's is cut short,
both without a pyramid. The API refuses their descriptors (410 and 422, with their codes); the
case view says in words, over the viewer, why each cannot be opened and what to do; the case's
other slides still open and show tissue; axe-core finds nothing serious. Screenshots."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient, DemoServer
from tests.viewer.own_case import claimed_case
from tests.viewer.scans import drop_scan
from tests.viewer.test_case_view import tissue_fraction

SCAN_TIMEOUT_S = 120


def settled_slide(api: ApiClient, case_id: int, stain: str) -> dict[str, Any]:
    """The case's slide of ``stain`` once registered and its pyramid job has ended (built or
    failed): nothing writes its pyramid afterwards."""
    deadline = time.monotonic() + SCAN_TIMEOUT_S
    while time.monotonic() < deadline:
        found = [s for s in api.all_items(f"/cases/{case_id}/slides") if s["stain"] == stain]
        if found and found[0]["pyramid_status"] in ("ready", "failed"):
            return dict(found[0])
        time.sleep(0.5)
    raise AssertionError(f"the {stain} slide of case {case_id} never settled")


def stored_file(demo_server: DemoServer, name: str) -> Path:
    """Where the importer put the dropped file ``name`` in the slide store."""
    [path] = (demo_server.data_dir / "slides").rglob(f"*{name}")
    return path


def without_pyramid(demo_server: DemoServer, slide_id: int) -> None:
    shutil.rmtree(demo_server.data_dir / "pyramids" / str(slide_id), ignore_errors=True)


def test_a_slide_that_cannot_be_opened_says_why_and_the_others_still_open(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
) -> None:
    account = new_account("pathologist")
    api = api_as(account["username"], account["password"])
    case = claimed_case(api)
    accession = case["accession_number"]
    block = case["specimens"][0]["blocks"][0]["label"]
    tag = uuid.uuid4().hex[:6]
    # Stains of their own: the demo's slides of the case are H&E and IHC.
    missing_name = f"{accession}_{block}_PAS_{tag}.svs"
    damaged_name = f"{accession}_{block}_GIEMSA_{tag}.svs"
    drop_scan(demo_server, case["department_code"], missing_name)
    drop_scan(demo_server, case["department_code"], damaged_name)
    missing = settled_slide(api, case["id"], "PAS")
    damaged = settled_slide(api, case["id"], "GIEMSA")

    # The lab's mishaps: one file deleted from the store, one cut short; no pyramid for either.
    stored_file(demo_server, missing_name).unlink()
    damaged_file = stored_file(demo_server, damaged_name)
    with damaged_file.open("r+b") as f:
        f.truncate(damaged_file.stat().st_size // 2)  # an incomplete copy: the header stays
    without_pyramid(demo_server, missing["id"])
    without_pyramid(demo_server, damaged["id"])

    # What the API answers for them
    status, body = api.get(f"/slides/{missing['id']}.dzi")
    assert (status, body["error"]) == (410, "slide_file_missing"), body
    assert str(demo_server.data_dir) not in body["detail"]  # no server paths over HTTP
    status, body = api.get(f"/slides/{damaged['id']}.dzi")
    assert status == 422 and body["error"] in ("unsupported_slide", "slide_unreadable"), body
    status, body = api.get(f"/slides/{missing['id']}_files/0/0_0.jpeg")
    assert (status, body["error"]) == (410, "slide_file_missing"), body

    page = signed_in_page(account["username"], account["password"])
    page.goto(f"/case/{case['id']}")
    viewer = page.get_by_role("region", name="Slide viewer")
    # The case's first slide opens as before.
    expect(page.locator(".scale-bar")).to_be_visible(timeout=30_000)
    note = viewer.get_by_role("alert", name="Slide cannot be opened")
    expect(note).to_be_hidden()

    page.get_by_role("button", name=f"{block} PAS").click()
    expect(page.locator("#viewer-slide-name")).to_have_text(f"{block} PAS")
    expect(note).to_be_visible()
    expect(page.locator(".scale-bar")).to_be_hidden()  # none left over from the slide before
    expect(note).to_contain_text(
        "This slide cannot be opened: its file is missing from the slide store. "
        "Ask the lab to rescan it."
    )
    # Nothing can be drawn meanwhile: it would land on the slide open before.
    tools = page.get_by_role("toolbar", name="Drawing tools")
    expect(tools).to_be_hidden()
    expect(
        page.get_by_text("No slide is open: annotations are drawn on an open slide.")
    ).to_be_visible()
    # OpenSeadragon's own "Unable to open [object Object]" is not shown instead.
    expect(viewer.get_by_text("Unable to open")).to_be_hidden()
    # The strip says there is no preview, instead of a blank thumbnail.
    expect(page.get_by_role("button", name=f"{block} PAS")).to_contain_text("no preview")
    assert_accessible(page, "case-slide-file-missing")

    page.get_by_role("button", name=f"{block} GIEMSA").click()
    expect(note).to_contain_text(
        "This slide cannot be opened: its file is damaged or cannot be read. "
        "Ask the lab to rescan it."
    )
    screenshot(page, "case-slide-file-damaged")

    # The case's other slides still open, with tissue, and the note goes.
    unopenable = {missing["id"], damaged["id"]}
    slides = api.all_items(f"/cases/{case['id']}/slides")
    others = [s for s in slides if s["id"] not in unopenable and not s["withdrawn_at"]]
    assert others, "the demo case has slides of its own"
    other_name = f"{others[-1]['block_label']} {others[-1]['stain']}"
    page.get_by_role("button", name=other_name).first.click()
    expect(note).to_be_hidden()
    expect(page.locator(".scale-bar")).to_be_visible(timeout=30_000)
    expect(page.locator("#viewer-slide-name")).to_have_text(other_name)
    expect(tools).to_be_visible()  # a slide again: its drawing tools again
    deadline = time.monotonic() + 30
    while tissue_fraction(viewer.screenshot()) <= 0.05:
        assert time.monotonic() < deadline, "the other slide showed no tissue in 30 s"
        page.wait_for_timeout(250)
    screenshot(page, "case-other-slide-opens")
