"""A slide added after sign-out, in Chromium: a pathologist of this test's own signs a case
out through the API, the scanner drops one more slide of it into the import folder, and the
pathologist sees it on My worklist ("Slides added after sign-out"), as a badge on the slide in
the case view's strip and as a note by the addendum form; an addendum takes it off the
worklist. axe-core and screenshots."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient, DemoServer
from tests.viewer.scans import drop_scan

REPORT = {
    "macroscopy": "Biopt van 3 mm.",
    "microscopy": "Tubulaire architectuur.",
    "conclusion": "Colon, biopt: tubulair adenoom.",
    "diagnosis_codes": [],
}


def signed_out_case(api: ApiClient) -> dict[str, Any]:
    """A case ``api``'s pathologist claims, reports and signs out; its detail."""
    status, claimed = api.post("/worklist/claim-next", {"own_subspecialties_only": False})
    assert status == 200 and claimed["assignment"] is not None, claimed
    case_id = claimed["assignment"]["case"]["case_id"]
    status, report = api.put(f"/cases/{case_id}/report", REPORT)
    assert status == 200, report
    status, state = api.post(f"/cases/{case_id}/sign-out")
    assert status == 200 and state["status"] == "signed_out", state
    status, detail = api.get(f"/cases/{case_id}")
    assert status == 200, detail
    return dict(detail)


def wait_for_late_slide(api: ApiClient, case_id: int, timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        late = [s for s in api.all_items(f"/cases/{case_id}/slides") if s["after_sign_out"]]
        if late:
            return dict(late[0])
        time.sleep(0.5)
    raise AssertionError(f"the dropped slide of case {case_id} was never registered")


def wait_for_pyramid(api: ApiClient, case_id: int, slide_id: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        [slide] = [s for s in api.all_items(f"/cases/{case_id}/slides") if s["id"] == slide_id]
        assert slide["pyramid_status"] != "failed", slide
        if slide["pyramid_status"] == "ready":
            return
        time.sleep(0.5)
    raise AssertionError(f"slide {slide_id}'s pyramid was never built")


def test_a_slide_added_after_sign_out_reaches_the_pathologist_who_signed_it_out(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
) -> None:
    account = new_account("pathologist")
    api = api_as(account["username"], account["password"])
    case = signed_out_case(api)
    accession = case["accession_number"]
    block = case["specimens"][0]["blocks"][0]["label"]
    drop_scan(
        demo_server, case["department_code"], f"{accession}_{block}_PAS_{uuid.uuid4().hex[:6]}.svs"
    )
    slide = wait_for_late_slide(api, case["id"])
    assert (slide["block_label"], slide["stain"]) == (block, "PAS")
    [listed] = api.all_items("/worklist/after-sign-out")
    assert (listed["case_id"], listed["slide_id"]) == (case["id"], slide["id"])

    # My worklist: the table, its row, a link to the case
    page = signed_in_page(account["username"], account["password"])
    table = page.get_by_role("table", name="Slides added after sign-out")
    expect(table.get_by_role("rowheader")).to_have_count(1)
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=accession))
    expect(row).to_contain_text(f"{block} PAS")
    assert_accessible(page, "worklist-after-sign-out")

    # The case view: the badge on the slide, the note by the addendum form
    row.get_by_role("link", name=accession).click()
    page.wait_for_url(f"**/case/{case['id']}")
    late_button = page.get_by_role("button", name=f"{block} PAS Added after sign-out")
    expect(late_button).to_be_visible()
    expect(late_button.locator(".late-slide-flag")).to_have_text("Added after sign-out")
    expect(page.locator(".late-slide-flag")).to_have_count(1)  # only the new slide
    notice = page.locator("#late-slides-notice")
    # The report panel waits for the first tile (tissue first), which on a loaded machine can
    # take longer than expect's default 5 s while the new slide's pyramid is still building.
    expect(notice).to_have_text(
        f"A slide was added after sign-out: consider an addendum ({block} PAS).", timeout=45_000
    )
    expect(page.get_by_role("heading", name="Add addendum")).to_be_visible()
    # The new slide opens (its pyramid built by the server's worker): the scale bar is labelled
    # once a slide is open, so axe runs after that.
    wait_for_pyramid(api, case["id"], slide["id"])
    late_button.click()
    expect(page.locator(".scale-bar")).to_have_attribute("aria-label", re.compile("^Scale bar"))
    expect(page.locator("#viewer-slide-name")).to_have_text(f"{block} PAS")
    notice.scroll_into_view_if_needed()
    assert_accessible(page, "case-after-sign-out")

    # An addendum written from the page settles it: the note goes, the worklist row too.
    page.get_by_label("Addendum", exact=True).fill("PAS: geen schimmels.")
    page.get_by_role("button", name="Add addendum").click()
    expect(page.get_by_role("status", name="Report status")).to_have_text(
        "Addendum added and signed."
    )
    expect(notice).to_have_count(0)
    expect(late_button).to_be_visible()  # the badge is history: it stays
    assert api.all_items("/worklist/after-sign-out") == []
    page.goto("/")
    expect(page.get_by_text("No slide came in after you signed a case out.")).to_be_visible()
    expect(page.get_by_role("table", name="Slides added after sign-out")).to_be_hidden()
    screenshot(page, "worklist-after-sign-out-empty")
