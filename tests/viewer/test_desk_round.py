"""The assignment round in Chromium: a lab manager previews a round, approves part of it,
applies it, and the pathologists' worklists hold exactly what was approved; axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient

DEMO_PATHOLOGISTS = ("hmc", "lumc", "alrijne", "alrijne2", "ghz", "haga", "rdgg")


def _worklists(api_as: Callable[[str], ApiClient]) -> dict[str, set[int]]:
    """Pathologist name -> the case ids on their worklist, for the demo pathologists."""
    held: dict[str, set[int]] = {}
    for username in DEMO_PATHOLOGISTS:
        api = api_as(username)
        _, me = api.get("/auth/me")
        items = api.all_items("/worklist/mine?kind=primary")
        held[me["display_name"]] = {item["case"]["id"] for item in items}
    return held


def test_a_manager_previews_approves_part_and_applies_a_round(
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    new_account: Callable[..., dict[str, Any]],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    manager = new_account("lab_manager", department_code="ALR")
    page = signed_in_page(manager["username"], manager["password"])
    page.goto("/desk/round")
    expect(page.get_by_role("heading", name="Assignment round", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Ready")
    assert_accessible(page, "assignment round, before a preview")

    page.get_by_role("button", name="Preview a round").click()
    table = page.get_by_role("table", name="Proposals")
    expect(page.get_by_text("Preview ready")).to_be_visible()
    boxes = table.get_by_role("checkbox")
    count = boxes.count()
    assert count >= 2, "the demo leaves scanned cases for the round"
    assert_accessible(page, "assignment round, a preview")
    screenshot(page, "desk-round-preview")

    page.get_by_role("button", name="Approve none").click()
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Apply the approved proposals").click()
    expect(page.get_by_text("Applied: 2 of")).to_be_visible()
    screenshot(page, "desk-round-applied")

    # The stored round says which two were applied; the case records agree, and the others
    # are still unassigned.
    admin = api_as("admin")
    summary = page.locator("#round-summary").inner_text()
    round_id = int(re.match(r"Round (\d+)", summary).group(1))  # type: ignore[union-attr]
    _, rounds_view = admin.get(f"/assignment-rounds/{round_id}")
    applied = [p for p in rounds_view["proposals"] if p["applied"]]
    assert len(applied) == 2
    for proposal in rounds_view["proposals"][:10]:
        if proposal["kind"] != "primary":
            continue
        _, case = admin.get(f"/cases/{proposal['case_id']}")
        holder = case["primary_pathologist_code"]
        if proposal["applied"]:
            assert holder is not None
        elif proposal["case_id"] not in {p["case_id"] for p in applied}:
            assert holder is None, f"{proposal['accession']} was not approved"
    held = _worklists(api_as)
    for proposal in applied:
        if proposal["assignee_name"] in held:
            assert proposal["case_id"] in held[proposal["assignee_name"]]
