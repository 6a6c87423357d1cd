"""The case view in a real Chromium on the demo: open a case from the worklist, tissue on every
tile, rotation, measuring, the scale bar, side by side, label and macro, next case (prefetched),
keyboard shortcuts, axe-core.

Each test takes cases of its own from one demo pathologist's worklist (``haga``, by position),
so the tests do not depend on each other's order. The page's viewer is reached the way the
panels reach it: ``import("/static/js/case.js")`` in the page gives the same module instance.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.viewer.conftest import ApiClient

PATHOLOGIST = "haga"

# The page's viewer (the test keeps a handle on window; the page itself creates no global).
GRAB_VIEWER = """async () => {
  const page = await import("/static/js/case.js");
  const opened = await new Promise((resolve) => page.onSlideOpened(resolve));
  window.__viewer = opened.viewer;
  return {slideId: opened.slide.id, mppUm: opened.mppUm};
}"""
FULLY_LOADED = """() => {
  const viewer = window.__viewer;
  return Boolean(
    viewer && viewer.world.getItemCount() > 0 && viewer.world.getItemAt(0).getFullyLoaded()
  );
}"""


def primary_cases(api: ApiClient) -> list[dict[str, Any]]:
    """The pathologist's primary cases in worklist order (what the page's list shows)."""
    return [
        item["case"]
        for item in api.all_items("/worklist/mine?kind=primary")
        if item["kind"] == "primary"
    ]


def case_slides(api: ApiClient, case_id: int) -> list[dict[str, Any]]:
    """The case's slides in strip order."""
    return api.all_items(f"/cases/{case_id}/slides")


def with_two_slides(api: ApiClient, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The first of ``cases`` with at least two slides (the demo's week, and so which cases
    come first, depends on the date: a one-slide cytology case may lead the list)."""
    return next(c for c in cases if len(case_slides(api, c["id"])) >= 2)


def open_case(page: Any, accession_number: str) -> dict[str, Any]:
    """Click the case in "My worklist", wait until its first slide's first view is complete."""
    table = page.get_by_role("table", name="My worklist")
    table.get_by_role("link", name=accession_number, exact=True).click()
    page.wait_for_url("**/case/*")
    return wait_for_slide(page)


def wait_for_slide(page: Any) -> dict[str, Any]:
    """Wait until the main viewer has a slide open and fully drawn; its id and mpp."""
    opened: dict[str, Any] = page.evaluate(GRAB_VIEWER)
    page.wait_for_function(FULLY_LOADED, timeout=30_000)
    return opened


def viewer_state(page: Any, handle: str = "window.__viewer") -> dict[str, float]:
    """Rotation, image zoom (screen px per slide px) and centre (slide px) of a viewer."""
    state: dict[str, float] = page.evaluate(
        f"""() => {{
          const viewer = {handle};
          const image = viewer.world.getItemAt(0);
          const centre = image.viewportToImageCoordinates(viewer.viewport.getCenter(true));
          return {{
            rotation: viewer.viewport.getRotation(true),
            imageZoom: image.viewportToImageZoom(viewer.viewport.getZoom(true)),
            x: centre.x, y: centre.y,
          }};
        }}"""
    )
    return state


SETTLED = """(handle) => {
  const viewport = window[handle].viewport;
  const springs = [viewport.centerSpringX, viewport.centerSpringY, viewport.zoomSpring];
  return [...springs, viewport.degreesSpring].every((spring) => spring.isAtTargetValue());
}"""


def settle(page: Any, handle: str = "__viewer") -> None:
    """Wait for a viewer's animations to end (OpenSeadragon's springs) and its tiles to load."""
    page.wait_for_function(SETTLED, arg=handle)
    page.wait_for_function(FULLY_LOADED, timeout=30_000)


def viewer_in_view(page: Any) -> dict[str, float]:
    """Scroll the main viewer into the window (mouse events only reach what is shown); its box."""
    viewer = page.get_by_role("region", name="Slide viewer", exact=True)
    viewer.scroll_into_view_if_needed()
    box: dict[str, float] = viewer.bounding_box()
    return box


def screen_point(page: Any, image_x: float, image_y: float) -> tuple[float, float]:
    """The window coordinates of a slide level-0 pixel in the main viewer."""
    point: dict[str, float] = page.evaluate(
        """([x, y]) => {
          const viewer = window.__viewer;
          const p = viewer.viewport.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
          const box = viewer.element.getBoundingClientRect();
          return {x: box.left + p.x, y: box.top + p.y};
        }""",
        [image_x, image_y],
    )
    return point["x"], point["y"]


def tissue_fraction(png: bytes) -> float:
    """The share of pixels that are not white-ish background (stained tissue)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return float((pixels.min(axis=2) < 200).mean())


@pytest.fixture
def haga(api_as: Callable[..., ApiClient]) -> ApiClient:
    return api_as(PATHOLOGIST)


def test_open_a_case_from_the_worklist_shows_tissue(
    signed_in_page: Callable[..., Any],
    haga: ApiClient,
    screenshot: Callable[[Any, str], Any],
) -> None:
    case = with_two_slides(haga, primary_cases(haga))
    slides = case_slides(haga, case["id"])
    page = signed_in_page(PATHOLOGIST)
    tiles: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda answer: (
            tiles.append((answer.status, answer.url)) if "_files/" in answer.url else None
        ),
    )
    opened = open_case(page, case["accession_number"])

    heading = page.get_by_role("heading", level=1)
    assert heading.text_content() == f"Case {case['accession_number']}"
    facts = page.locator("#case-facts").text_content() or ""
    for value in (case["patient_pseudonym"], case["tumour_group"], case["department_code"]):
        assert value in facts
    # The strip: one button per slide, named by block and stain, in the API's order.
    strip = page.get_by_role("navigation", name="Slides")
    names = [button.text_content() for button in strip.get_by_role("button").all()]
    assert names == [f"{s['block_label']} {s['stain']}" for s in slides]
    assert opened["slideId"] == slides[0]["id"]

    assert tiles, "the viewer asked for no tile"
    assert all(status == 200 for status, _ in tiles), [t for t in tiles if t[0] != 200]
    viewer = page.get_by_role("region", name="Slide viewer", exact=True)
    assert tissue_fraction(viewer.screenshot()) > 0.05
    # Opening an assigned case of one's own is the start of its review.
    page.get_by_text("Review started.").wait_for()
    status, detail = haga.get(f"/cases/{case['id']}")
    assert status == 200 and detail["status"] == "in_review"
    screenshot(page, "case-view")

    # Choosing another slide in the strip opens it.
    second = slides[1]
    strip.get_by_role("button", name=f"{second['block_label']} {second['stain']}").click()
    page.wait_for_function(
        "(id) => window.__viewer.world.getItemCount() > 0 && "
        "window.__viewer.world.getItemAt(0).source.tilesUrl.includes(`/slides/${id}_files`)",
        arg=second["id"],
    )
    page.wait_for_function(FULLY_LOADED, timeout=30_000)
    assert page.get_by_role("heading", name=f"Slide {second['block_label']} {second['stain']}")
    assert all(status == 200 for status, _ in tiles)


def test_rotation_by_90_degrees_free_and_by_key(
    signed_in_page: Callable[..., Any], haga: ApiClient
) -> None:
    case = primary_cases(haga)[1]
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["accession_number"])
    page.get_by_role("button", name="Rotate right 90°").click()
    settle(page)
    assert viewer_state(page)["rotation"] == pytest.approx(90)
    slider = page.get_by_label("Rotation (degrees)")
    assert slider.input_value() == "90"
    slider.fill("45")
    settle(page)
    assert viewer_state(page)["rotation"] == pytest.approx(45)
    page.get_by_role("button", name="Rotate left 90°").click()
    settle(page)
    assert viewer_state(page)["rotation"] % 360 == pytest.approx(315)
    # The keyboard: "r" anywhere on the page (focus outside text fields).
    page.get_by_role("heading", level=1).click()
    page.keyboard.press("r")
    settle(page)
    assert viewer_state(page)["rotation"] % 360 == pytest.approx(45)
    assert slider.input_value() == "45"
    # The tissue is still drawn after rotating.
    viewer = page.get_by_role("region", name="Slide viewer", exact=True)
    assert tissue_fraction(viewer.screenshot()) > 0.05


def _measure(page: Any, start: tuple[float, float], end: tuple[float, float]) -> float:
    """Drag the measuring tool from one slide pixel to another; the µm the page shows."""
    viewer_in_view(page)
    x1, y1 = screen_point(page, *start)
    x2, y2 = screen_point(page, *end)
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=5)
    page.mouse.move(x2, y2, steps=5)
    page.mouse.up()
    readout = page.get_by_text("Measured length:")
    text = readout.text_content() or ""
    number, unit = text.removeprefix("Measured length: ").split()
    return float(number) * (1000 if unit == "mm" else 1)


def test_measure_a_line_of_known_length_at_any_rotation(
    signed_in_page: Callable[..., Any],
    haga: ApiClient,
    screenshot: Callable[[Any, str], Any],
) -> None:
    case = primary_cases(haga)[2]
    page = signed_in_page(PATHOLOGIST)
    opened = open_case(page, case["accession_number"])
    status, slide = haga.get(f"/slides/{opened['slideId']}")
    assert status == 200 and slide["mpp_x_um"]
    mpp_x, mpp_y = slide["mpp_x_um"], slide["mpp_y_um"]

    # One screen pixel = one slide pixel: a 500 px line is 500 screen px, ends exact to 1 px.
    page.get_by_role("button", name="Full resolution").click()
    settle(page)
    assert viewer_state(page)["imageZoom"] == pytest.approx(1, rel=1e-3)
    measure = page.get_by_role("button", name="Measure")
    measure.click()
    assert measure.get_attribute("aria-pressed") == "true"
    centre = viewer_state(page)
    start = (centre["x"] - 200, centre["y"] - 150)
    end = (centre["x"] + 200, centre["y"] + 150)  # 400 x 300 px: 500 px long
    expected_um = math.hypot(400 * mpp_x, 300 * mpp_y)
    shown_um = _measure(page, start, end)
    assert shown_um == pytest.approx(expected_um, rel=0.005)
    # The drag drew a line; it did not pan.
    assert viewer_state(page)["x"] == pytest.approx(centre["x"], abs=0.5)
    screenshot(page, "case-measure")

    # Rotated by 90° and by 30°: the same two slide points are the same length.
    for degrees in ("90", "30"):
        page.get_by_label("Rotation (degrees)").fill(degrees)
        settle(page)
        assert _measure(page, start, end) == pytest.approx(expected_um, rel=0.005)

    # The scale bar: its width on screen is the length it names at this zoom.
    bar = page.get_by_role("img", name="Scale bar", exact=False)
    label = bar.get_attribute("aria-label") or ""
    number, unit = label.removeprefix("Scale bar: ").split()
    bar_um = float(number) * (1000 if unit == "mm" else 1)
    bar_px = page.locator(".scale-bar-line").bounding_box()
    assert bar_px is not None
    zoom = viewer_state(page)["imageZoom"]
    assert bar_px["width"] / zoom * mpp_x == pytest.approx(bar_um, rel=0.03)
    # Esc gives the pointer back to moving the slide.
    page.keyboard.press("Escape")
    assert measure.get_attribute("aria-pressed") == "false"


def test_side_by_side_follows_pan_zoom_and_rotation(
    signed_in_page: Callable[..., Any],
    haga: ApiClient,
    screenshot: Callable[[Any, str], Any],
) -> None:
    cases = primary_cases(haga)
    case = with_two_slides(haga, cases[3:])
    slides = case_slides(haga, case["id"])
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["accession_number"])
    page.get_by_role("button", name="Side by side").click()
    second_region = page.get_by_role("region", name="Second slide viewer")
    second_region.wait_for()
    choose = page.get_by_label("Second slide")
    options = choose.locator("option").all_text_contents()
    assert options == [f"{s['block_label']} {s['stain']}" for s in slides]
    page.evaluate(
        """async () => {
          const page = await import("/static/js/case.js");
          window.__second = page.secondViewer();
        }"""
    )
    page.wait_for_function(
        "() => window.__second.world.getItemCount() > 0 && "
        "window.__second.world.getItemAt(0).getFullyLoaded()",
        timeout=30_000,
    )
    # Zoom in (the toolbar acts on the main viewer), then pan it with the mouse: the second
    # follows, in slide pixels.
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    settle(page)
    box = viewer_in_view(page)
    before = viewer_state(page)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 150, box["y"] + box["height"] / 2 - 100, steps=8)
    page.mouse.up()
    settle(page)
    main, second = viewer_state(page), viewer_state(page, "window.__second")
    assert abs(main["x"] - before["x"]) > 100, "the drag did not pan"
    assert second["x"] == pytest.approx(main["x"], rel=0.01)
    assert second["y"] == pytest.approx(main["y"], rel=0.01)
    assert second["imageZoom"] == pytest.approx(main["imageZoom"], rel=0.01)
    # Zoom and rotation follow too.
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Rotate right 90°").click()
    settle(page)
    page.wait_for_timeout(300)
    main, second = viewer_state(page), viewer_state(page, "window.__second")
    assert second["imageZoom"] == pytest.approx(main["imageZoom"], rel=0.01)
    assert second["rotation"] == pytest.approx(main["rotation"]) == pytest.approx(90)
    assert tissue_fraction(second_region.screenshot()) > 0.05
    screenshot(page, "case-side-by-side")


def test_label_and_macro_on_request(
    signed_in_page: Callable[..., Any],
    haga: ApiClient,
    screenshot: Callable[[Any, str], Any],
) -> None:
    case = primary_cases(haga)[5]
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["accession_number"])
    for name in ("label", "macro"):
        page.get_by_role("button", name=f"Show {name}").click()
        image = page.get_by_role("img", name=f"{name.capitalize()} of slide", exact=False)
        image.wait_for()
        drawn = page.evaluate(
            """(name) => {
              const canvas = document.querySelector(`[data-image="${name}"] canvas`);
              return {width: canvas.width, height: canvas.height};
            }""",
            name,
        )
        assert drawn["width"] > 0 and drawn["height"] > 0
    screenshot(page, "case-label-macro")
    page.get_by_role("button", name="Hide label").click()
    assert page.get_by_role("img", name="Label of slide", exact=False).count() == 0


def audited_events(admin: ApiClient, case_id: int) -> dict[str, str]:
    """The audit's records of ``case_id`` by the pathologist of these tests: id -> event type."""
    status, answer = admin.get(f"/audit?case_id={case_id}&user={PATHOLOGIST}&limit=1000")
    assert status == 200, answer
    return {record["event_id"]: record["event_type"] for record in answer["items"]}


def new_events(admin: ApiClient, case_id: int, before: dict[str, str]) -> set[str]:
    """The event types recorded for ``case_id`` since ``before`` was read."""
    now = audited_events(admin, case_id)
    return {kind for event_id, kind in now.items() if event_id not in before}


def test_next_case_opens_the_prefetched_next_case(
    signed_in_page: Callable[..., Any], haga: ApiClient, api_as: Callable[..., ApiClient]
) -> None:
    cases = primary_cases(haga)
    case, following = cases[6], cases[7]
    admin = api_as("admin")
    before = audited_events(admin, following["id"])
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["accession_number"])
    button = page.get_by_role("button", name=f"Next case: {following['accession_number']}")
    # The prefetch starts once this case's first view is complete.
    page.wait_for_function(
        "() => document.getElementById('next-case').dataset.prefetch === 'done'", timeout=30_000
    )
    prefetched = int(button.get_attribute("data-prefetched-tiles") or "0")
    assert prefetched > 0
    assert button.get_attribute("data-prefetch-failed") == "0"
    # Fetched ahead is audited as such: the pathologist has not looked at the next case yet.
    prefetched_only = new_events(admin, following["id"], before)
    assert prefetched_only == {"case.prefetch", "slide.prefetch"}, prefetched_only
    button.click()
    page.wait_for_url(f"**/case/{following['id']}")
    wait_for_slide(page)
    # Opening it, from the cache as it is, is audited as the opening of the case and its slide.
    opened = new_events(admin, following["id"], before)
    assert {"case.open", "slide.open"} <= opened, opened
    # Every tile of the next case's first view came from the browser's cache (no bytes moved).
    entries = page.evaluate(
        """() => performance.getEntriesByType("resource")
             .filter((e) => e.name.includes("_files/"))
             .map((e) => ({url: e.name, transferSize: e.transferSize}))"""
    )
    assert entries, "the next case drew no tile"
    fetched = [entry["url"] for entry in entries if entry["transferSize"] > 0]
    assert not fetched, f"{len(fetched)} of {len(entries)} tiles came over the network: {fetched}"
    thumbnails = page.evaluate(
        """() => performance.getEntriesByType("resource")
             .filter((e) => e.name.includes("/thumbnail"))
             .map((e) => ({url: e.name, transferSize: e.transferSize}))"""
    )
    assert thumbnails
    fetched = [entry["url"] for entry in thumbnails if entry["transferSize"] > 0]
    assert not fetched, f"thumbnails over the network: {fetched} of {thumbnails}"


def test_keyboard_shortcuts_are_listed_and_the_page_is_accessible(
    signed_in_page: Callable[..., Any],
    haga: ApiClient,
    assert_accessible: Callable[[Any, str], None],
) -> None:
    case = with_two_slides(haga, primary_cases(haga)[4:])
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["accession_number"])
    page.get_by_role("link", name="Keyboard shortcuts").click()
    section = page.get_by_role("region", name="Keyboard shortcuts")
    table = section.get_by_role("table", name="Keyboard shortcuts")
    rows = table.get_by_role("row").all_text_contents()
    for does in ("Rotate right 90°", "Zoom in", "Measuring tool on or off", "Next case"):
        assert any(does in row for row in rows), does
    # "1": full resolution, from the keyboard.
    page.get_by_role("heading", level=1).click()
    page.keyboard.press("1")
    settle(page)
    assert viewer_state(page)["imageZoom"] == pytest.approx(1, rel=1e-3)
    # OpenSeadragon's own "f" (flip) is off: the annotation and measuring layers draw unflipped.
    page.evaluate("() => window.__viewer.canvas.focus()")
    assert page.evaluate("() => document.activeElement === window.__viewer.canvas")
    page.keyboard.press("f")
    assert page.evaluate("() => window.__viewer.viewport.getFlip()") is False
    assert_accessible(page, "case-view-a11y")
    page.get_by_role("button", name="Side by side").click()
    page.get_by_role("region", name="Second slide viewer").wait_for()
    assert_accessible(page, "case-view-side-by-side-a11y")
