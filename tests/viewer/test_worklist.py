"""My worklist in Chromium: exactly the cases ``GET /worklist/mine?kind=primary`` returns, in
its order; filters; the consult requests; "Claim next case" and its reason; the header; the
explanation for accounts that are not a pathologist's; axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.viewer.conftest import ApiClient, DemoServer, pathologist_without_account

PRIORITY_NAMES = {
    "frozen": "Frozen section",
    "urgent": "Urgent",
    "cancer_pathway": "Cancer pathway",
    "routine": "Routine",
}
STATUS_NAMES = {
    "assigned": "Assigned",
    "in_review": "In review",
    "consult_pending": "Consult pending",
}


def worklist_table(page: Page) -> Locator:
    return page.get_by_role("table", name="My worklist")


def shown_accessions(table: Locator) -> list[str]:
    """The accession numbers in the table's rows, top to bottom (each row's header cell)."""
    return [text.strip() for text in table.get_by_role("rowheader").all_inner_texts()]


def primary_items(api: ApiClient) -> list[dict[str, Any]]:
    items = api.all_items("/worklist/mine?kind=primary")
    assert all(item["kind"] == "primary" for item in items)
    return items


def wait_for_rows(page: Page, count: int) -> Locator:
    table = worklist_table(page)
    expect(table.get_by_role("rowheader")).to_have_count(count)
    return table


def test_my_worklist_shows_exactly_my_primary_cases_in_the_apis_order(
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    assert_accessible: Callable[[Page, str], None],
) -> None:
    expected = primary_items(api_as("alrijne"))
    assert len(expected) >= 5, "the demo gives every demo pathologist at least 5 primary cases"
    page = signed_in_page("alrijne")
    table = wait_for_rows(page, len(expected))
    assert shown_accessions(table) == [item["case"]["accession_number"] for item in expected]

    now = datetime.now(UTC)
    rows = table.get_by_role("row")  # the header row first
    for index, item in enumerate(expected, start=1):
        case = item["case"]
        row = rows.nth(index)
        link = row.get_by_role("link", name=case["accession_number"])
        expect(link).to_have_attribute("href", f"/case/{case['id']}")
        cells = row.get_by_role("cell")
        expect(cells.nth(0)).to_have_text(PRIORITY_NAMES[case["priority"]])
        expect(cells.nth(2)).to_have_text(STATUS_NAMES[case["status"]])
        expect(cells.nth(3)).to_have_text(case["tumour_group"])
        expect(cells.nth(4)).to_have_text(case["department_code"])
        overdue = datetime.fromisoformat(case["due_at"]) < now
        # Overdue is said in words, not only by the row's colour.
        if overdue:
            expect(cells.nth(1)).to_contain_text("Overdue")
        else:
            expect(cells.nth(1)).not_to_contain_text("Overdue")
    assert_accessible(page, "worklist")


def test_filters_narrow_the_worklist_and_say_when_nothing_matches(
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    screenshot: Callable[[Page, str], Any],
) -> None:
    expected = primary_items(api_as("hmc"))
    page = signed_in_page("hmc")
    table = wait_for_rows(page, len(expected))
    everything = shown_accessions(table)

    groups = sorted({item["case"]["tumour_group"] for item in expected})
    group = min(groups, key=lambda g: sum(i["case"]["tumour_group"] == g for i in expected))
    page.get_by_label("Tumour group").select_option(group)
    in_group = [
        i["case"]["accession_number"] for i in expected if i["case"]["tumour_group"] == group
    ]
    wait_for_rows(page, len(in_group))
    assert shown_accessions(table) == in_group
    expect(page.get_by_text(f"Showing {len(in_group)} of {len(expected)} cases")).to_be_visible()
    screenshot(page, "worklist-filtered")

    # A status no case of this group has: the table gives way to an explanation.
    statuses = {item["case"]["status"] for item in expected}
    page.get_by_label("Tumour group").select_option("")
    wait_for_rows(page, len(expected))
    status = sorted(statuses)[0]
    page.get_by_label("Status").select_option(status)
    with_status = [i["case"]["accession_number"] for i in expected if i["case"]["status"] == status]
    wait_for_rows(page, len(with_status))
    assert shown_accessions(table) == with_status
    missing = [
        g
        for g in groups
        if all(i["case"]["tumour_group"] != g for i in expected if i["case"]["status"] == status)
    ]
    if missing:
        page.get_by_label("Tumour group").select_option(missing[0])
        expect(table).to_be_hidden()
        expect(page.get_by_text(re.compile(r"None of your \d+ cases has status"))).to_be_visible()

    page.get_by_label("Status").select_option("")
    page.get_by_label("Tumour group").select_option("")
    wait_for_rows(page, len(expected))
    assert shown_accessions(table) == everything


def test_consult_requests_addressed_to_me_have_their_own_table(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    screenshot: Callable[[Page, str], Any],
) -> None:
    # Two accounts of this test's own: the consult changes no demo pathologist's lists.
    requester = new_account("pathologist")
    asking = api_as(requester["username"], requester["password"])
    status, claimed = asking.post("/worklist/claim-next", {"own_subspecialties_only": False})
    assert status == 200 and claimed["assignment"] is not None, claimed
    case = claimed["assignment"]["case"]
    admin = api_as("admin")
    colleague = pathologist_without_account(admin, outside_department=requester["department_code"])
    consultant = new_account("pathologist", pathologist_code=colleague["code"])
    question = 'Is this margin clear? <img src=x onerror="alert(1)">'
    status, answer = asking.post(
        f"/cases/{case['case_id']}/consults",
        {"pathologist_code": colleague["code"], "question": question},
    )
    assert status == 201, answer
    _, asker = admin.get(f"/pathologists/{requester['pathologist_code']}")

    page = signed_in_page(consultant["username"], password=consultant["password"])
    consults = page.get_by_role("table", name="Consult requests")
    link = page.get_by_role("link", name=case["accession_number"])
    row = consults.get_by_role("row").filter(has=link)
    expect(row).to_have_count(1)
    expect(link).to_have_attribute("href", f"/case/{case['case_id']}")
    cells = row.get_by_role("cell")
    expect(cells.nth(0)).to_have_text("Consult")
    expect(cells.nth(1)).to_have_text(question)  # shown as text: no image element made of it
    expect(cells.nth(2)).to_have_text(f"{asker['name']} ({asker['code']})")
    expect(consults.locator("img")).to_have_count(0)
    # A consult is not one of my primary cases.
    expect(worklist_table(page).get_by_role("link", name=case["accession_number"])).to_have_count(0)
    screenshot(page, "worklist-consult-requests")


def _waiting_in(manager: ApiClient, groups: list[str]) -> int:
    waiting = manager.all_items("/worklist/region?status=scanned&unassigned_only=true")
    return sum(case["tumour_group"] in groups for case in waiting)


def test_claim_next_case_adds_it_and_says_why_when_nothing_is_given(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    screenshot: Callable[[Page, str], Any],
) -> None:
    # The free pathologist with the fewest waiting cases in their subspecialties: few claims
    # empty their queue.
    admin, manager = api_as("admin"), api_as("manager")
    taken = {user["pathologist_code"] for user in admin.all_items("/users")}
    waiting = manager.all_items("/worklist/region?status=scanned&unassigned_only=true")
    candidates = [
        p for p in admin.all_items("/pathologists") if p["active"] and p["code"] not in taken
    ]
    chosen = min(
        candidates,
        key=lambda p: sum(case["tumour_group"] in p["subspecialties"] for case in waiting),
    )
    account = new_account("pathologist", pathologist_code=chosen["code"])
    held = primary_items(api_as(account["username"], account["password"]))
    page = signed_in_page(account["username"], password=account["password"])
    expect(page.get_by_role("button", name="Claim next case")).to_be_enabled()
    if held:
        wait_for_rows(page, len(held))

    page.get_by_role("button", name="Claim next case").click()
    result = page.get_by_role("status").filter(has_text="You claimed")
    expect(result).to_be_visible()
    accession = result.get_by_role("link").inner_text()
    table = wait_for_rows(page, len(held) + 1)
    assert accession in shown_accessions(table)

    # Empty the queue of their subspecialties through the API, then ask once more.
    claimer = api_as(account["username"], account["password"])
    for _ in range(len(waiting)):
        status, answer = claimer.post("/worklist/claim-next", {})
        assert status == 200, answer
        if answer["assignment"] is None:
            break
    assert answer["assignment"] is None and answer["reason"]
    page.get_by_role("button", name="Claim next case").click()
    expect(page.get_by_role("status").filter(has_text="No case was given")).to_contain_text(
        answer["reason"]
    )
    screenshot(page, "worklist-claim-next-nothing")

    # Outside their subspecialties there is still work: the reason's advice, from the page.
    page.get_by_label("Only my subspecialties").uncheck()
    page.get_by_role("button", name="Claim next case").click()
    result = page.get_by_role("status").filter(has_text="You claimed")
    expect(result).to_be_visible()
    other = result.get_by_role("link").inner_text()
    expect(worklist_table(page).get_by_role("link", name=other)).to_be_visible()


def test_the_header_names_me_and_signs_out(
    signed_in_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    page = signed_in_page("rdgg")
    banner = page.get_by_role("banner")
    expect(banner.get_by_role("link", name="Coupe")).to_have_attribute("href", "/")
    expect(banner).to_contain_text(re.compile(r"\(RDGG-\d+\)"))
    expect(banner).to_contain_text("Pathologist")
    banner.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))


def test_managers_land_on_their_desk_and_other_accounts_get_an_explanation(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    assert_accessible: Callable[[Page, str], None],
) -> None:
    for username in ("manager", "admin"):
        desk = signed_in_page(username)
        expect(desk).to_have_url(re.compile(r"/desk/queue$"))
    officer = new_account("privacy_officer")
    for username, password, says in (
        (officer["username"], officer["password"], "privacy officers see no clinical content"),
    ):
        page = signed_in_page(username, password=password)
        heading = page.get_by_role("heading", name="This page is the pathologists' worklist")
        expect(heading).to_be_visible()
        expect(page.get_by_text(says)).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text("")
        expect(page.get_by_role("table")).to_have_count(0)
        expect(page.get_by_role("button", name="Claim next case")).to_be_hidden()
    assert_accessible(page, "worklist-not-a-pathologist")
