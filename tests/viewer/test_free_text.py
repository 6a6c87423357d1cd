"""Free text is shown as text, never as HTML: ``<img src=x onerror=alert(1)>`` typed into every
free-text field of the case page (annotation label, comment, consult question and answer,
report macroscopy, microscopy, conclusion, diagnosis display, addendum) comes back on the page
as those very characters, no ``<img>`` is made of it and no dialog opens; axe-core finds no
serious violation with every panel filled.

This test signs a case out: it takes the second-lowest case id of alrijne's own department's
cases on her list (case_panels.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.case_panels import XSS, drag, open_case, primary_cases, viewer_box
from tests.viewer.conftest import ApiClient

PATHOLOGIST = "alrijne"
CONSULTANT = "lumc"


def watch_dialogs(page: Page) -> list[str]:
    """Every dialog the page opens (an injected alert would be one), dismissed."""
    opened: list[str] = []

    def seen(dialog: Any) -> None:
        opened.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", seen)
    return opened


def assert_shown_as_text(page: Page, where: str, count: int) -> None:
    """``XSS`` shows as text ``count`` times in ``where``, and no image was made of it."""
    expect(page.locator(where).get_by_text(XSS, exact=True)).to_have_count(count)
    assert page.locator("img[src='x']").count() == 0


def test_markup_in_every_free_text_field_is_shown_as_text(
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    assert_accessible: Callable[[Page, str], None],
) -> None:
    api = api_as(PATHOLOGIST)
    case = primary_cases(api, own_department=True)[1]
    consultant = api_as(CONSULTANT)
    page = signed_in_page(PATHOLOGIST)
    dialogs = watch_dialogs(page)
    open_case(page, case["id"])

    # The annotation label.
    page.get_by_label("Label of new annotations").fill(XSS)
    page.get_by_role("button", name="Point").click()
    box = viewer_box(page)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_role("button", name="Line").click()
    box = viewer_box(page)
    start = (box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    drag(page, start, (start[0] + 100, start[1] + 60))
    expect(page.get_by_role("list", name="On this slide").get_by_role("listitem")).to_have_count(2)
    page.get_by_role("button", name="Line").click()

    # A comment.
    page.get_by_label("Comment", exact=True).fill(XSS)
    page.get_by_role("button", name="Add comment").click()
    expect(page.get_by_role("status", name="Comment status")).to_have_text("Comment added.")

    # A consult question, answered by the consultant with the same text.
    page.get_by_label("Colleague", exact=True).select_option(consultant.user["pathologist_code"])
    page.get_by_label("Question", exact=True).fill(XSS)
    page.get_by_role("button", name="Ask colleague").click()
    expect(page.get_by_role("status", name="Consult status")).to_contain_text("was sent")
    code, _ = consultant.post(f"/cases/{case['id']}/consults/answer", {"answer": XSS})
    assert code == 200

    # The report's texts and a diagnosis' display text, saved as a draft.
    editor = page.get_by_role("form", name="Report editor")
    for field in ("Macroscopy", "Microscopy", "Conclusion"):
        editor.get_by_label(field).fill(XSS)
    editor.get_by_role("button", name="Add diagnosis code").click()
    row = editor.get_by_role("group", name="Diagnosis 1")
    row.get_by_label("Code").fill("T67000")
    row.get_by_label("Display text").fill(XSS)
    editor.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status", name="Report status")).to_have_text(
        "Draft saved (version 1)."
    )

    # Everything read back from the API after a reload: text, each of them.
    page.reload()
    open_case(page, case["id"])
    assert_shown_as_text(page, "#annotations-panel .annotation-list", 2)
    assert_shown_as_text(page, "#comments-panel", 1)
    consult = page.get_by_role("list", name="Consults").get_by_role("listitem").last
    expect(consult.locator(".consult-question")).to_have_text(XSS)
    expect(consult.locator(".consult-answer")).to_have_text(XSS)
    editor = page.get_by_role("form", name="Report editor")
    for field in ("Macroscopy", "Microscopy", "Conclusion"):
        expect(editor.get_by_label(field)).to_have_value(XSS)
    expect(
        editor.get_by_role("group", name="Diagnosis 1").get_by_label("Display text")
    ).to_have_value(XSS)
    assert_accessible(page, "case-panels-filled")

    # Signed out: the frozen report shows the texts as text; an addendum too.
    editor.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Confirm sign-out").click()
    expect(page.get_by_role("status", name="Report status")).to_contain_text("is signed out")
    page.get_by_label("Addendum", exact=True).fill(XSS)
    page.get_by_role("button", name="Add addendum").click()
    expect(page.get_by_role("status", name="Report status")).to_have_text(
        "Addendum added and signed."
    )
    page.reload()
    open_case(page, case["id"])
    # macroscopy, microscopy, conclusion and the addendum as text; the display in its line
    assert_shown_as_text(page, "#report-panel", 4)
    expect(page.locator("#report-panel .diagnosis-list")).to_have_text(f"T67000 — {XSS}")
    assert_accessible(page, "case-report-signed")

    # The consultant's view of the same case: the question as text too.
    other = signed_in_page(CONSULTANT)
    other_dialogs = watch_dialogs(other)
    other.goto("/")
    expect(other.get_by_role("heading", name="Consult requests")).to_be_visible()
    assert other.locator("img[src='x']").count() == 0
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert dialogs == [] and other_dialogs == []
