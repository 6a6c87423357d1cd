"""Rosters and absences in Chromium: an absence entered today on the page takes that pathologist
out of today's proposals (the engine on the demo's database, and the manager's round preview
``POST /assignment-rounds``), the working days saved
from the page, the absence removed again; axe-core and a screenshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select

from tests.viewer.conftest import ApiClient, DemoServer
from worklist.engine import plan_assignments
from worklist.models import Pathologist
from worklist.region import default_region
from worklist.snapshots import load_snapshot


def preview(demo_server: DemoServer) -> tuple[set[str], dict[str, int]]:
    """Who is present today in the demo's database (read only), and the engine's proposals per
    pathologist code for today's round."""
    url = f"sqlite:///file:{demo_server.data_dir / 'worklist.sqlite3'}?mode=ro&uri=true"
    engine = create_engine(url)
    try:
        snapshot = load_snapshot(engine=engine, now=datetime.now(UTC), rules=default_region().rules)
        with engine.connect() as connection:
            codes = dict(connection.execute(select(Pathologist.id, Pathologist.code)).all())
    finally:
        engine.dispose()
    counts: dict[str, int] = {}
    for proposal in plan_assignments(snapshot).proposals:
        code = codes[proposal.pathologist_id]
        counts[code] = counts.get(code, 0) + 1
    return {codes[p.pathologist_id] for p in snapshot.pathologists if p.present}, counts


def open_rosters(page: Page, code: str) -> None:
    page.wait_for_url("**/desk/queue")  # "/" sends a lab manager to the desk first
    page.goto(f"/desk/rosters?code={code}")
    expect(page.get_by_role("heading", name="Rosters and absences", level=1)).to_be_visible()
    expect(page.get_by_label("Pathologist")).to_have_value(code)
    expect(page.get_by_role("heading", name="Absences", exact=True)).to_be_visible()


def test_an_absence_entered_today_removes_the_pathologist_from_todays_proposals(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    assert_accessible: Callable[[Page, str], None],
) -> None:
    present, proposals = preview(demo_server)
    if not present:
        pytest.skip("nobody works today (weekend or public holiday): nothing to take away")
    # Someone the engine would give work to today, else anyone present.
    code = max(sorted(present), key=lambda c: proposals.get(c, 0))
    account = new_account("lab_manager")
    page = signed_in_page(account["username"], account["password"])
    open_rosters(page, code)
    expect(page.get_by_text("works today")).to_be_visible()

    today = date.today().isoformat()
    page.get_by_label("From").fill(today)
    page.get_by_label("To (inclusive)").fill(today)
    page.get_by_label("Kind").select_option("sickness")
    page.get_by_role("button", name="Add absence").click()
    expect(page.get_by_text("is not working today: sickness")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Sickness")
    expect(row).to_have_count(1)
    assert_accessible(page, "desk-rosters")

    try:
        present_after, proposals_after = preview(demo_server)
        assert code not in present_after, f"{code} is absent today yet counted present"
        assert proposals_after.get(code, 0) == 0, f"{code} is absent today yet gets cases"
        api = api_as(account["username"], account["password"])
        status, listed = api.get(f"/pathologists/{code}/absences?on={today}")
        assert status == 200 and listed["why_absent"] == "sickness"
        # The same through the manager's preview of a round (POST /assignment-rounds).
        _, person = api.get(f"/pathologists/{code}")
        status, round_ = api.post("/assignment-rounds", {})
        assert status == 201, round_
        [load] = [row for row in round_["load"] if row["name"] == person["name"]]
        assert load["present"] is False and load["proposals"] == 0
        assert all(p["assignee_name"] != person["name"] for p in round_["proposals"])
    finally:
        page.get_by_role("button", name=f"Remove absence {today} to {today}").click()
        expect(page.get_by_text("works today")).to_be_visible()
    assert code in preview(demo_server)[0]


def test_working_days_are_saved_from_the_page_and_an_empty_choice_is_refused(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
) -> None:
    account = new_account("lab_manager")
    api = api_as(account["username"], account["password"])
    code = "RDGG-07"
    _, before = api.get(f"/pathologists/{code}")
    page = signed_in_page(account["username"], account["password"])
    open_rosters(page, code)
    try:
        for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
            page.get_by_label(day).set_checked(day in ("Monday", "Thursday"))
        page.get_by_role("button", name="Save working days").click()
        expect(page.get_by_text("Working days saved.")).to_be_visible()
        _, saved = api.get(f"/pathologists/{code}")
        assert saved["working_days"] == ["mon", "thu"]
        for day in ("Monday", "Thursday"):
            page.get_by_label(day).set_checked(False)
        page.get_by_role("button", name="Save working days").click()
        expect(page.get_by_role("alert")).to_have_text("Choose at least one working day.")
    finally:
        status, _ = api.request(
            "PATCH", f"/pathologists/{code}", {"working_days": before["working_days"]}
        )
        assert status == 200
