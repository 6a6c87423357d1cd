"""The case page's "Waiting on" panel in Chromium: a pathologist starts a molecular-test wait
on a case of theirs (by keyboard), sees it listed with its start, has a second one for the same
reason refused with the API's reason shown on the page, ends it, and the API has it ended;
axe-core on the page with the panel. The case is the last of ``lumc``'s own department (no
other browser test signs it out; a wait changes nothing other tests read)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.viewer.case_panels import open_case, primary_cases
from tests.viewer.conftest import ApiClient

PATHOLOGIST = "lumc"
OUTSIDER = "hmc"  # another site: reads a lumc case by breaking the glass only


def test_a_molecular_test_wait_is_started_refused_twice_and_ended(
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    assert_accessible: Callable[[Page, str], None],
) -> None:
    api = api_as(PATHOLOGIST)
    case = primary_cases(api, own_department=True)[-1]
    waits_path = f"/cases/{case['id']}/waits"
    assert not [w for w in api.all_items(waits_path) if w["ended_at"] is None]
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])
    panel = page.get_by_role("region", name="Waiting on")
    expect(panel).to_contain_text("turnaround clock is paused")
    expect(panel).to_contain_text("not waiting on anything")

    reason = panel.get_by_label("Reason", exact=True)
    reason.select_option(label="Molecular test")
    start = panel.get_by_role("button", name="Start wait")
    start.focus()
    page.keyboard.press("Enter")
    status = panel.get_by_role("status", name="Wait status")
    expect(status).to_contain_text("now waits on: molecular test")
    open_waits = panel.get_by_role("list", name="Open waits")
    item = open_waits.get_by_role("listitem").filter(has_text="Molecular test")
    expect(item).to_have_count(1)
    [started] = [w for w in api.all_items(waits_path) if w["ended_at"] is None]
    assert started["reason"] == "molecular_test"
    expect(item.locator("time")).to_have_attribute("datetime", started["started_at"])

    # A second wait for the same reason while one is open: the API's 409, said on the page.
    start.click()
    expect(status).to_contain_text("Problem: The molecular test wait was not started")
    expect(status).to_contain_text("already waits on a molecular test")
    expect(item).to_have_count(1)
    assert_accessible(page, "case-waits-open")

    item.get_by_role("button", name="End wait: Molecular test").click()
    expect(status).to_contain_text("wait ended: the clock runs again")
    expect(open_waits.get_by_role("listitem")).to_have_count(0)
    ended = panel.get_by_role("list", name="Ended waits").get_by_role("listitem")
    expect(ended.filter(has_text="Molecular test")).to_have_count(1)
    expect(panel).to_contain_text("not waiting on anything")
    [after] = [w for w in api.all_items(waits_path) if w["id"] == started["id"]]
    assert after["ended_at"] is not None and after["ended_at"] > after["started_at"]


def test_no_wait_is_recorded_on_a_signed_out_case_or_under_an_emergency_grant(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient]
) -> None:
    api = api_as(PATHOLOGIST)
    code, signed_out = api.get(
        f"/cases?status=signed_out&department_code={api.user['department_code']}&limit=1"
    )
    assert code == 200 and signed_out["items"], signed_out
    page = signed_in_page(PATHOLOGIST)
    page.goto(f"/case/{signed_out['items'][0]['id']}")
    panel = page.get_by_role("region", name="Waiting on")
    expect(panel).to_contain_text("This case is signed out: its turnaround is final")
    expect(panel.get_by_role("button", name="Start wait")).to_have_count(0)

    # Another site's pathologist reads the case by breaking the glass: reading, not recording.
    case = primary_cases(api, own_department=True)[-2]
    before = api.all_items(f"/cases/{case['id']}/waits")
    outsider = api_as(OUTSIDER)
    reason = {"reason": "Patient on the operating table; frozen section compared."}
    code, grant = outsider.post(f"/cases/{case['id']}/break-glass", reason)
    assert code == 201, grant
    page = signed_in_page(OUTSIDER)
    open_case(page, case["id"])
    panel = page.get_by_role("region", name="Waiting on")
    panel.get_by_role("button", name="Start wait").click()
    status = panel.get_by_role("status", name="Wait status")
    expect(status).to_contain_text("Problem: The external consult wait was not started")
    expect(panel).to_contain_text("You may read this case's waits but not record them")
    expect(panel.get_by_role("button", name="Start wait")).to_have_count(0)
    assert api.all_items(f"/cases/{case['id']}/waits") == before
