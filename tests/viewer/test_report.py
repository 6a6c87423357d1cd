"""The report on the case page in Chromium: written and saved as versioned drafts with
diagnosis codes, a save from an old version refused (409) with a reload offered, sign-out
refused without a conclusion, then confirmed: the report frozen and shown with who signed
when, the case off alrijne's worklist, and an addendum added and signed.

This test signs a case out: it takes the lowest case id of alrijne's own department's cases on
her list (case_panels.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.case_panels import open_case, primary_cases
from tests.viewer.conftest import ApiClient

PATHOLOGIST = "alrijne"


def test_write_save_sign_out_and_add_an_addendum(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient], screenshot: Any
) -> None:
    api = api_as(PATHOLOGIST)
    # A case of Alrijne itself: a case of another site is no longer alrijne's to open once
    # signed out (the access ends with the assignment), which the addendum needs.
    case = primary_cases(api, own_department=True)[0]
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])
    editor = page.get_by_role("form", name="Report editor")
    status = page.get_by_role("status", name="Report status")
    expect(editor.locator("#report-version")).to_have_text("No report saved yet.")

    editor.get_by_label("Macroscopy").fill("Colon segment, 12 cm.\nTumour 3 cm.")
    editor.get_by_label("Microscopy").fill("Moderately differentiated adenocarcinoma.")
    editor.get_by_role("button", name="Add diagnosis code").click()
    first = editor.get_by_role("group", name="Diagnosis 1")
    first.get_by_label("System").fill("PALGA")
    first.get_by_label("Code").fill("T67000")
    first.get_by_label("Display text").fill("colon")
    editor.get_by_role("button", name="Add diagnosis code").click()
    second = editor.get_by_role("group", name="Diagnosis 2")
    second.get_by_label("Code").fill("M81403")
    second.get_by_label("Display text").fill("adenocarcinoma")
    editor.get_by_role("button", name="Add diagnosis code").click()
    editor.get_by_role("button", name="Remove diagnosis 3").click()  # an empty row, removed
    editor.get_by_role("button", name="Save draft").click()
    expect(status).to_have_text("Draft saved (version 1).")
    expect(editor.locator("#report-version")).to_contain_text("Draft, version 1, saved by")
    code, report = api.get(f"/cases/{case['id']}/report")
    assert code == 200 and report["status"] == "draft" and report["version"] == 1
    assert report["macroscopy"] == "Colon segment, 12 cm.\nTumour 3 cm."
    assert report["conclusion"] == ""
    assert report["diagnosis_codes"] == [
        {"system": "PALGA", "code": "T67000", "display": "colon"},
        {"system": "", "code": "M81403", "display": "adenocarcinoma"},
    ]

    # Someone saves in between (the same pathologist in another window): this page's save,
    # made from version 1, is refused and offers the newer report.
    code, _ = api.put(
        f"/cases/{case['id']}/report",
        {**_body(report), "microscopy": "Saved elsewhere.", "expected_version": 1},
    )
    assert code == 200
    editor.get_by_label("Microscopy").fill("Written here.")
    editor.get_by_role("button", name="Save draft").click()
    expect(status).to_contain_text("Problem:")
    expect(editor).to_contain_text("someone else saved in between")
    editor.get_by_role("button", name="Reload the report").click()
    editor = page.get_by_role("form", name="Report editor")
    expect(editor.get_by_label("Microscopy")).to_have_value("Saved elsewhere.")
    expect(editor.locator("#report-version")).to_contain_text("version 2")

    # No sign-out without a conclusion: the page says so, the case stays as it is.
    editor.get_by_role("button", name="Sign out").click()
    expect(status).to_contain_text("Write a conclusion before signing out.")
    expect(editor.get_by_label("Conclusion")).to_be_focused()
    code, detail = api.get(f"/cases/{case['id']}")
    assert detail["status"] != "signed_out"

    # With a conclusion: confirmed on the page, then signed and frozen.
    editor.get_by_label("Conclusion").fill("Adenocarcinoma of the colon, pT2.")
    editor.get_by_role("button", name="Sign out").click()
    confirm = page.get_by_role("group", name=f"Sign out case {case['accession_number']}?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Confirm sign-out").click()
    expect(status).to_have_text(f"Case {case['accession_number']} is signed out.")
    expect(page.get_by_role("form", name="Report editor")).to_have_count(0)
    panel = page.locator("#report-panel")
    expect(panel.locator("#report-version")).to_contain_text("Signed out (version 3) by")
    expect(panel).to_contain_text("Adenocarcinoma of the colon, pT2.")
    expect(panel).to_contain_text("PALGA T67000 — colon")
    expect(panel.get_by_role("textbox", name="Conclusion")).to_have_count(0)
    code, report = api.get(f"/cases/{case['id']}/report")
    assert report["status"] == "signed" and report["signed_by"]["pathologist_code"]
    assert report["conclusion"] == "Adenocarcinoma of the colon, pT2."
    assert report["microscopy"] == "Saved elsewhere."

    # The case left alrijne's worklist, in the API and on the page.
    assert case["id"] not in {c["id"] for c in primary_cases(api)}
    page.goto("/")
    worklist = page.get_by_role("table", name="My worklist")
    expect(worklist.get_by_role("row").first).to_be_visible()
    expect(worklist.get_by_role("link", name=case["accession_number"])).to_have_count(0)

    # An addendum, signed by its author when added.
    open_case(page, case["id"])
    page.get_by_label("Addendum", exact=True).fill("KRAS: wild type.")
    page.get_by_role("button", name="Add addendum").click()
    status = page.get_by_role("status", name="Report status")
    expect(status).to_have_text("Addendum added and signed.")
    addenda = page.get_by_role("list", name="Addenda")
    item = addenda.get_by_role("listitem").filter(has_text="KRAS: wild type.")
    expect(item).to_contain_text(f"Signed by {api.user['display_name']}")
    code, report = api.get(f"/cases/{case['id']}/report")
    assert [a["body"] for a in report["addenda"]] == ["KRAS: wild type."]
    screenshot(page, "report-signed-with-addendum")


def _body(report: dict[str, Any]) -> dict[str, Any]:
    fields = ("macroscopy", "microscopy", "conclusion", "diagnosis_codes")
    return {name: report[name] for name in fields}
