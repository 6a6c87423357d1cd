"""The assignment round in Chromium: a lab manager previews a round, approves part of it,
applies it, and the pathologists' worklists hold exactly what was approved; axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient, DemoServer
from tests.viewer.scans import urgent_scanned_cases

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
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    new_account: Callable[..., dict[str, Any]],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    manager = new_account("lab_manager", department_code="ALR")
    # Cases of the test's own, scanned and due within hours: the round escalates them to the
    # region whatever the demo's pathologists already hold (they are at capacity by design).
    admin = api_as("admin")
    alr = [p for p in admin.all_items("/pathologists") if p["department_code"] == "ALR"]
    tumour_group = next(p["subspecialties"][0] for p in alr if p["active"] and p["subspecialties"])
    mine = urgent_scanned_cases(
        demo_server, admin, department_code="ALR", tumour_group=tumour_group, count=3
    )
    page = signed_in_page(manager["username"], manager["password"])
    page.goto("/desk/round")
    expect(page.get_by_role("heading", name="Assignment round", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Ready")
    assert_accessible(page, "assignment round, before a preview")

    page.get_by_role("button", name="Preview a round").click()
    table = page.get_by_role("table", name="Proposals")
    expect(page.get_by_text("Preview ready")).to_be_visible()
    for case in mine:  # each of the test's cases is proposed (primary), whoever gets it
        expect(
            table.get_by_role("checkbox", name=f"Approve {case['accession_number']} to")
        ).to_have_count(1)
    assert_accessible(page, "assignment round, a preview")
    screenshot(page, "desk-round-preview")

    page.get_by_role("button", name="Approve none").click()
    approved, left_out = mine[:2], mine[2]
    for case in approved:
        table.get_by_role("checkbox", name=f"Approve {case['accession_number']} to").check()
    page.get_by_role("button", name="Apply the approved proposals").click()
    expect(page.get_by_text("Applied: 2 of")).to_be_visible()
    screenshot(page, "desk-round-applied")

    # The stored round says which two were applied; the case records agree, and the others
    # are still unassigned.
    summary = page.locator("#round-summary").inner_text()
    round_id = int(re.match(r"Round (\d+)", summary).group(1))  # type: ignore[union-attr]
    _, rounds_view = admin.get(f"/assignment-rounds/{round_id}")
    applied = [p for p in rounds_view["proposals"] if p["applied"]]
    assert {p["case_id"] for p in applied} == {case["id"] for case in approved}
    _, left = admin.get(f"/cases/{left_out['id']}")
    assert left["primary_pathologist_code"] is None, "the proposal left unapproved was applied"
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


def test_a_round_gone_stale_lists_what_changed_and_applies_nothing(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    new_account: Callable[..., dict[str, Any]],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    manager = new_account("lab_manager", department_code="ALR")
    admin = api_as("admin")
    alr = [p for p in admin.all_items("/pathologists") if p["department_code"] == "ALR"]
    someone = next(p for p in alr if p["active"] and p["subspecialties"])
    mine = urgent_scanned_cases(
        demo_server,
        admin,
        department_code="ALR",
        tumour_group=someone["subspecialties"][0],
        count=2,
    )
    page = signed_in_page(manager["username"], manager["password"])
    page.goto("/desk/round")
    page.get_by_role("button", name="Preview a round").click()
    expect(page.get_by_text("Preview ready")).to_be_visible()

    # Meanwhile a colleague assigns one of the proposed cases by hand: the preview is stale.
    taken = mine[0]
    status, answer = admin.post(
        f"/cases/{taken['id']}/assign",
        {"pathologist_code": someone["code"], "reason": "taken by hand during the preview"},
    )
    assert status == 200, answer
    page.get_by_role("button", name="Apply the approved proposals").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was applied")
    changes = page.get_by_role("region", name="What changed since the preview")
    expect(changes).to_be_visible()
    expect(
        changes.get_by_role("listitem").filter(has_text=taken["accession_number"])
    ).to_have_count(1)
    expect(page.get_by_role("button", name="Run a new preview")).to_be_focused()
    assert_accessible(page, "assignment round, stale")
    screenshot(page, "desk-round-stale")
    _, other = admin.get(f"/cases/{mine[1]['id']}")
    assert other["primary_pathologist_code"] is None, "a stale round applied a proposal"

    page.get_by_role("button", name="Run a new preview").click()
    expect(page.get_by_text("Preview ready")).to_be_visible()
    expect(changes).to_be_hidden()
