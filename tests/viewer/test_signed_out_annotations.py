"""A signed-out case's annotations in Chromium: read-only. The pathologist signs a case out on
the case page and the annotations panel stops offering the drawing tools and the reshape, edit
and delete buttons at once, saying why; after a reload the same; the annotation drawn before
the sign-out is still listed, shown and selectable. The API refuses a change with 409 and
changes nothing. axe-core and a screenshot of the signed-out case view.

The case is the first of ``lumc``'s own department: tests that sign a case out take theirs from
the start of the list (case_panels.py), and no other test signs out one of lumc's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.case_panels import (
    annotation_item,
    first_slide,
    open_case,
    primary_cases,
    slide_annotations,
)
from tests.viewer.conftest import ApiClient

PATHOLOGIST = "lumc"
READ_ONLY = "This case is signed out: annotations are read-only."
# A new annotation, an edit and a delete of ``made`` (with its version), sent by the page itself
# (its session and CSRF token); each answer's status and detail.
ATTEMPTS = """async ({path, made}) => {
  const { api } = await import("/static/js/api.js");
  const ifMatch = { "If-Match": `"${made.version}"` };
  const attempts = [
    [path, { method: "POST", body: { geojson: made.geojson } }],
    [`${path}/${made.id}`, { method: "PATCH", body: { label: "later" }, headers: ifMatch }],
    [`${path}/${made.id}`, { method: "DELETE", headers: ifMatch }],
  ];
  const answers = [];
  for (const [where, how] of attempts) {
    try {
      await api(where, how);
      answers.push({ status: 200, detail: "" });
    } catch (error) {
      answers.push({ status: error.status, detail: error.message });
    }
  }
  return answers;
}"""


def rectangle(width: int, height: int) -> dict[str, Any]:
    """A rectangle in the middle of a slide of ``width`` x ``height`` level-0 px."""
    x0, y0, x1, y1 = width * 0.4, height * 0.4, width * 0.6, height * 0.6
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"shape": "rectangle"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_a_signed_out_case_shows_its_annotations_read_only(
    signed_in_page: Callable[..., Page],
    api_as: Callable[[str], ApiClient],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Any,
) -> None:
    api = api_as(PATHOLOGIST)
    case = primary_cases(api, own_department=True)[0]
    slide = first_slide(api, case["id"])
    code, made = api.post(
        f"/slides/{slide['id']}/annotations",
        {
            "class_name": "tumour",
            "label": "invasive front",
            "geojson": rectangle(slide["width_px"], slide["height_px"]),
        },
    )
    assert code == 201, made
    code, report = api.put(
        f"/cases/{case['id']}/report",
        {"macroscopy": "", "microscopy": "", "conclusion": "Tubulair adenoom."},
    )
    assert code == 200, report

    # Open: the tools and the author's edit buttons are offered.
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])
    panel = page.get_by_role("region", name="Annotations")
    item = annotation_item(page, "invasive front")
    expect(panel.get_by_role("toolbar", name="Drawing tools")).to_be_visible()
    expect(item.get_by_role("button", name="Edit")).to_be_visible()

    # Signed out on this page: read-only at once, saying why.
    page.get_by_role("form", name="Report editor").get_by_role("button", name="Sign out").click()
    confirm = page.get_by_role("group", name=f"Sign out case {case['accession_number']}?")
    confirm.get_by_role("button", name="Confirm sign-out").click()
    expect(page.get_by_role("status", name="Report status")).to_have_text(
        f"Case {case['accession_number']} is signed out."
    )
    expect(panel).to_contain_text(READ_ONLY)
    expect(panel.get_by_role("toolbar", name="Drawing tools")).to_have_count(0)

    # And so after a reload: listed, shown and selected, never changed.
    open_case(page, case["id"])
    panel = page.get_by_role("region", name="Annotations")
    item = annotation_item(page, "invasive front")
    expect(panel).to_contain_text(READ_ONLY)
    expect(panel.get_by_role("toolbar", name="Drawing tools")).to_have_count(0)
    for control in ("Rectangle", "Polygon", "Point", "Line"):
        expect(panel.get_by_role("button", name=control, exact=True)).to_have_count(0)
    expect(panel.get_by_label("Class of new annotations")).to_be_hidden()
    expect(panel.get_by_label("Label of new annotations")).to_be_hidden()
    expect(item).to_have_count(1)
    expect(item).to_contain_text("tumour")
    for control in ("Reshape", "Edit", "Delete"):
        expect(item.get_by_role("button", name=control)).to_have_count(0)
    item.get_by_role("button", name="Show").click()
    expect(item).to_have_class(re.compile(r"\bis-selected\b"))
    expect(panel.get_by_label("Show annotations")).to_be_checked()
    screenshot(page, "case-signed-out-annotations")
    assert_accessible(page, "case-signed-out-annotations")

    # The API says no to a change, with the version read, and nothing changed.
    answers = page.evaluate(ATTEMPTS, {"path": f"/slides/{slide['id']}/annotations", "made": made})
    assert [answer["status"] for answer in answers] == [409, 409, 409], answers
    assert all("annotations are read-only" in answer["detail"] for answer in answers), answers
    assert [(a["id"], a["label"], a["version"]) for a in slide_annotations(api, slide["id"])] == [
        (made["id"], "invasive front", 1)
    ]


def test_a_sign_out_elsewhere_turns_a_refused_edit_into_a_read_only_panel(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient]
) -> None:
    api = api_as(PATHOLOGIST)
    case = primary_cases(api, own_department=True)[0]
    slide = first_slide(api, case["id"])
    code, made = api.post(
        f"/slides/{slide['id']}/annotations",
        {"label": "margin", "geojson": rectangle(slide["width_px"], slide["height_px"])},
    )
    assert code == 201, made
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])
    panel = page.get_by_role("region", name="Annotations")
    item = annotation_item(page, "margin")
    expect(item.get_by_role("button", name="Edit")).to_be_visible()

    # Signed out in another window meanwhile: this page's edit is refused, and says why.
    code, report = api.put(
        f"/cases/{case['id']}/report",
        {"macroscopy": "", "microscopy": "", "conclusion": "Geen afwijkingen."},
    )
    assert code == 200, report
    code, state = api.post(f"/cases/{case['id']}/sign-out")
    assert code == 200 and state["status"] == "signed_out", state
    item.get_by_role("button", name="Edit").click()
    form = item.get_by_role("form", name="Edit annotation")
    form.get_by_label("Label").fill("margin, re-read")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status", name="Annotation status")).to_contain_text(
        "is signed out: its annotations are read-only"
    )
    expect(panel).to_contain_text(READ_ONLY)
    expect(panel.get_by_role("toolbar", name="Drawing tools")).to_have_count(0)
    expect(item.get_by_role("form", name="Edit annotation")).to_have_count(0)
    expect(item.get_by_role("button", name="Edit")).to_have_count(0)
    expect(item).to_contain_text("margin")
    [kept] = slide_annotations(api, slide["id"])
    assert (kept["label"], kept["version"]) == ("margin", 1)
