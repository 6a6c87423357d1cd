"""A reassignment's reason in the case history, in Chromium: a lab manager moves a case on
the regional queue (the reason required, a move outside the new pathologist's subspecialties
confirmed), and the History panel of the case view shows the move and its reason as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient

REASON = "HMC-01 on leave <img src=x onerror=alert(1)> until Friday"


def waiting_case_and_two_pathologists(
    api: ApiClient,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An unassigned scanned case, a pathologist of its site in its tumour group, and one
    of its site outside it."""
    people = api.all_items("/pathologists")
    _, page = api.get("/worklist/queue?unassigned_only=true&status=scanned&limit=200")
    for item in page["items"]:
        case = item["case"]
        here = [p for p in people if p["department_code"] == case["department_code"]]
        inside = [p for p in here if case["tumour_group"] in p["subspecialties"]]
        outside = [p for p in here if case["tumour_group"] not in p["subspecialties"]]
        if inside and outside:
            return case, inside[0], outside[0]
    raise AssertionError("the demo has an unassigned case with both kinds of pathologist")


def test_a_reassignments_reason_shows_in_the_case_history(
    signed_in_page: Callable[..., Page],
    api_as: Callable[..., ApiClient],
    new_account: Callable[..., dict[str, Any]],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
) -> None:
    account = new_account("lab_manager")
    api = api_as(account["username"], account["password"])
    case, inside, outside = waiting_case_and_two_pathologists(api)
    accession = case["accession_number"]
    status, _ = api.post(
        f"/cases/{case['id']}/assign",
        {"pathologist_code": inside["code"], "reason": "set-up of the test"},
    )
    assert status == 200

    page = signed_in_page(account["username"], account["password"])
    page.goto("/desk/queue")
    page.get_by_label("Pathologist", exact=True).select_option(inside["code"])
    page.get_by_label("Sort by").select_option("received")
    page.get_by_label("Reverse order").check()
    page.get_by_role("button", name=f"Reassign {accession}").click()
    dialog = page.get_by_role("dialog", name=f"Reassign {accession}")
    expect(dialog).to_be_visible()
    dialog.get_by_label("New pathologist").select_option(outside["code"])
    expect(dialog.get_by_text("outside the subspecialties")).to_be_visible()

    dialog.get_by_role("button", name="Reassign").click()  # no reason yet
    expect(dialog.get_by_role("alert")).to_contain_text("Give a reason")
    dialog.get_by_label("Reason").fill(REASON)
    dialog.get_by_role("button", name="Reassign").click()  # not confirmed yet
    expect(dialog.get_by_role("alert")).to_contain_text("tick the confirmation")
    assert_accessible(page, "desk-queue-reassign-dialog")
    dialog.get_by_label("Yes, assign it outside their subspecialties").check()
    dialog.get_by_role("button", name="Reassign").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="is now with")).to_contain_text(
        outside["code"]
    )
    _, moved = api.get(f"/cases/{case['id']}")
    assert moved["primary_pathologist_code"] == outside["code"]

    page.goto(f"/case/{case['id']}")
    history = page.locator("#history-panel")
    expect(history.get_by_role("heading", name="History")).to_be_visible()
    move = history.get_by_role("listitem").filter(
        has_text=f"Reassigned from {inside['code']} to {outside['code']}"
    )
    expect(move).to_be_visible()
    expect(move.locator(".history-reason")).to_have_text(f"Reason: {REASON}")
    expect(move).to_contain_text("Confirmed outside the pathologist's subspecialties")
    assert history.locator("img").count() == 0  # the reason is text, never HTML
    expect(history.get_by_role("listitem").first).to_contain_text("Received")
    _, answer = api.get(f"/cases/{case['id']}/history")
    assert history.get_by_role("listitem").count() == len(answer["events"])
    history.scroll_into_view_if_needed()
    screenshot(page, "case-history")
    assert_accessible(page, "case-history")
