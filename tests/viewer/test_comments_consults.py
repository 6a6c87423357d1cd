"""Comments and consults on the case page in Chromium: a comment added and read back by a
colleague; the consult round trip between two browser contexts (alrijne asks the pathologist
of the ``lumc`` account, who finds it under "Consult requests" on the worklist, answers in the
case, and alrijne sees the answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.case_panels import open_case, primary_cases
from tests.viewer.conftest import ApiClient

PATHOLOGIST = "alrijne"
COLLEAGUE = "alrijne2"
CONSULTANT = "lumc"  # another site


def test_a_comment_is_added_and_read_by_a_colleague(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient]
) -> None:
    api = api_as(COLLEAGUE)
    case = primary_cases(api, own_department=True)[-1]
    page = signed_in_page(COLLEAGUE)
    open_case(page, case["id"])
    before = len(api.all_items(f"/cases/{case['id']}/comments"))
    field = page.get_by_label("Comment", exact=True)
    page.get_by_role("button", name="Add comment").click()  # empty: the browser refuses it
    assert field.evaluate("element => element.validity.valueMissing")
    assert len(api.all_items(f"/cases/{case['id']}/comments")) == before
    page.get_by_label("Comment", exact=True).fill("Deeper levels ordered.\nSee block A2.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.get_by_role("status", name="Comment status")).to_have_text("Comment added.")
    expect(page.get_by_label("Comment", exact=True)).to_have_value("")
    comments = api.all_items(f"/cases/{case['id']}/comments")
    assert comments[-1]["body"] == "Deeper levels ordered.\nSee block A2."

    other = signed_in_page(PATHOLOGIST)
    open_case(other, case["id"])
    listing = other.get_by_role("list", name="Comments")
    item = listing.get_by_role("listitem").filter(has_text="Deeper levels ordered.")
    expect(item).to_contain_text(COLLEAGUE)
    expect(item.locator("time")).to_have_attribute("datetime", comments[-1]["created_at"])
    # typed line breaks kept
    assert item.locator(".comment-body").inner_text() == "Deeper levels ordered.\nSee block A2."


def test_consult_round_trip_between_two_browsers(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient], screenshot: Any
) -> None:
    api = api_as(PATHOLOGIST)
    consultant = api_as(CONSULTANT).user
    # A case of another site on alrijne's list (the tests of the annotations take Alrijne's own).
    case = [c for c in primary_cases(api) if c["department_code"] != "ALR"][-1]
    question = "Is this a low-grade fibromyxoid sarcoma?\nMUC4 was weak."
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])
    expect(page.get_by_role("heading", name="Ask a colleague")).to_be_visible()
    colleague = page.get_by_label("Colleague", exact=True)
    # Colleagues of other sites come first, by department; alrijne is not among them.
    options = colleague.locator("option").all_inner_texts()
    assert not any(api.user["pathologist_code"] in option for option in options)
    colleague.select_option(consultant["pathologist_code"])
    page.get_by_label("Kind", exact=True).select_option("second_opinion")
    page.get_by_label("Question", exact=True).fill(question)
    page.get_by_role("button", name="Ask colleague").click()
    status = page.get_by_role("status", name="Consult status")
    expect(status).to_contain_text("The request was sent")
    consults = page.get_by_role("list", name="Consults")
    asked = consults.get_by_role("listitem").filter(has_text=consultant["pathologist_code"])
    expect(asked).to_contain_text("Second opinion")
    expect(asked).to_contain_text("Open")
    expect(asked).to_contain_text("Not answered yet.")
    assert asked.locator(".consult-question").inner_text() == question
    # The case is now waiting for the consult (the page's header follows).
    code, detail = api.get(f"/cases/{case['id']}")
    assert code == 200 and detail["status"] == "consult_pending"

    # The consultant, in a browser of their own, finds it on the worklist.
    other = signed_in_page(CONSULTANT)
    requests = other.get_by_role("table", name="Consult requests")
    row = requests.get_by_role("row").filter(has_text=case["accession_number"])
    expect(row).to_contain_text("Second opinion")
    row.get_by_role("link", name=case["accession_number"]).click()
    other.wait_for_url(f"**/case/{case['id']}")
    open_case(other, case["id"])
    expect(other.get_by_text("asks you for a second opinion")).to_be_visible()
    expect(other.get_by_role("heading", name="Ask a colleague")).to_have_count(0)
    other.get_by_label("Answer", exact=True).fill("Agree: LGFMS. FUS rearrangement advised.")
    other.get_by_role("button", name="Send answer").click()
    expect(other.get_by_role("status", name="Consult status")).to_have_text("Your answer was sent.")
    expect(other.get_by_role("heading", name="Answer the consult")).to_have_count(0)
    screenshot(other, "consult-answered-by-consultant")

    # alrijne sees the answer in the case.
    page.reload()
    open_case(page, case["id"])
    answered = page.get_by_role("list", name="Consults").get_by_role("listitem")
    answered = answered.filter(has_text=consultant["pathologist_code"])
    expect(answered).to_contain_text("Answered")
    assert (
        answered.locator(".consult-answer").inner_text()
        == "Agree: LGFMS. FUS rearrangement advised."
    )
    screenshot(page, "consult-answer-seen")
    items = api.all_items(f"/cases/{case['id']}/consults")
    assert [(c["status"], c["question"]) for c in items][-1] == ("answered", question)
