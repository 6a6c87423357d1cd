"""What the tests of the case page's panels share: picking cases, opening the page, drawing.

Cases are picked from a demo pathologist's primary worklist by case id, so that each test has
cases of its own whatever ran before: tests that sign a case out take the lowest ids (from the
start), the others the highest (from the end); removing a case from one end leaves the
positions counted from the other end as they were.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient

XSS = "<img src=x onerror=alert(1)>"

# The page's main viewer, reached as the panels reach it (the same module instance); the test
# keeps it on window, the page itself creates no global.
GRAB_VIEWER = """async () => {
  const page = await import("/static/js/case.js");
  await page.caseReady; // a case that cannot be shown fails here, instead of waiting forever
  const opened = await new Promise((resolve) => page.onSlideOpened(resolve));
  window.__viewer = opened.viewer;
  return {slideId: opened.slide.id};
}"""
FULLY_LOADED = """() => {
  const viewer = window.__viewer;
  return Boolean(
    viewer && viewer.world.getItemCount() > 0 && viewer.world.getItemAt(0).getFullyLoaded()
  );
}"""
# Level-0 pixels -> pixels in the viewer element, through the viewer's own transform.
TO_SCREEN = """([x, y]) => {
  const p = window.__viewer.world.getItemAt(0).imageToViewerElementCoordinates(
    new OpenSeadragon.Point(x, y));
  return [p.x, p.y];
}"""


def primary_cases(api: ApiClient, *, own_department: bool = False) -> list[dict[str, Any]]:
    """The pathologist's primary cases, by case id; ``own_department``: only those of their
    own department (the demo also gives pathologists cases of other sites)."""
    items = api.all_items("/worklist/mine?kind=primary")
    cases = sorted((item["case"] for item in items), key=lambda case: case["id"])
    if own_department:
        cases = [c for c in cases if c["department_code"] == api.user["department_code"]]
    return cases


def first_slide(api: ApiClient, case_id: int) -> dict[str, Any]:
    """The slide the case page opens first (the first one not withdrawn), with its size."""
    slides = api.all_items(f"/cases/{case_id}/slides")
    listed = next(slide for slide in slides if slide["withdrawn_at"] is None)
    code, slide = api.get(f"/slides/{listed['id']}")
    assert code == 200, slide
    return {**listed, **slide}


def open_case(page: Page, case_id: int) -> None:
    """Open the case page and wait until its first slide is drawn and its panels are filled."""
    page.goto(f"/case/{case_id}")
    page.evaluate(GRAB_VIEWER)
    page.wait_for_function(FULLY_LOADED, timeout=30_000)
    expect(page.locator(".annotation-list-block")).not_to_contain_text("Loading")
    expect(page.get_by_role("heading", name="Report", exact=True)).to_be_visible()


def viewer_box(page: Page) -> dict[str, float]:
    """The slide viewer scrolled to the top of the window; its box in window pixels."""
    viewer = page.get_by_role("region", name="Slide viewer")
    viewer.evaluate("element => element.scrollIntoView({block: 'start'})")
    box = viewer.bounding_box()
    assert box is not None
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at ``start``, move to ``end`` in steps, release (window pixels)."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=10)
    page.mouse.up()


def slide_annotations(api: ApiClient, slide_id: int) -> list[dict[str, Any]]:
    """The slide's annotations as the API has them."""
    return api.all_items(f"/slides/{slide_id}/annotations")


def annotation_item(page: Page, text: str) -> Any:
    """The item of the panel's annotation list that shows ``text``."""
    listing = page.get_by_role("list", name="On this slide")
    return listing.get_by_role("listitem").filter(has_text=text)
