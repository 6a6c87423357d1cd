"""The measuring tool from the keyboard, in a real Chromium on the demo: the slide viewer
focused, ``m`` turns the tool on and shows a cross at the view's centre, Enter puts the line's
start there, the arrow keys pan, a second Enter puts the end there; the length shown (and
announced in the live region) is the panned distance in level-0 pixels times the slide's mpp.
Esc cancels a half-made line and leaves the tool; the keys are listed in the shortcut table.

The expected length comes from the viewer's own centre (level-0 pixels) before and after the
pan, not from the number of presses: OpenSeadragon 6 pans a key press over several frames, so
how far one press goes depends on the frame rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.viewer.case_panels import first_slide, open_case, primary_cases
from tests.viewer.conftest import ApiClient

# A pathologist no other browser test of the case view works as.
PATHOLOGIST = "rdgg"
# A short press pans about OpenSeadragon's pixelsPerArrowPress (40 screen px; 36 measured:
# nine frames of 4 px); the test asks for a clear pan per press, the exact length comes from
# the viewer's centre.
MIN_PAN_PER_PRESS_PX = 30
CENTRE = """() => {
  const viewer = window.__viewer;
  const image = viewer.world.getItemAt(0);
  const centre = image.viewportToImageCoordinates(viewer.viewport.getCenter(true));
  return {x: centre.x, y: centre.y,
          imageZoom: image.viewportToImageZoom(viewer.viewport.getZoom(true))};
}"""
STILL_FOR_S = 0.3
STILL_TIMEOUT_S = 10.0


def centre_when_still(page: Page) -> dict[str, float]:
    """The view's centre (level-0 pixels) once it has stopped moving (a key's pan has ended)."""
    deadline = time.monotonic() + STILL_TIMEOUT_S
    before: dict[str, float] = page.evaluate(CENTRE)
    while time.monotonic() < deadline:
        time.sleep(STILL_FOR_S)
        now: dict[str, float] = page.evaluate(CENTRE)
        if now == before:
            return now
        before = now
    raise AssertionError(f"the view kept moving for {STILL_TIMEOUT_S} s")


def shown_um(text: str) -> float:
    """The µm of a readout "Measured length: 12.3 µm" (or "1.234 mm")."""
    number, unit = text.removeprefix("Measured length: ").split()
    return float(number) * (1000 if unit == "mm" else 1)


def test_measure_a_line_from_the_keyboard(
    signed_in_page: Callable[..., Any],
    api_as: Callable[..., ApiClient],
    screenshot: Callable[[Any, str], Any],
    assert_accessible: Callable[[Any, str], None],
) -> None:
    api = api_as(PATHOLOGIST)
    case = primary_cases(api)[-1]
    slide = first_slide(api, case["id"])
    assert slide["mpp_x_um"], slide
    mpp_x, mpp_y = slide["mpp_x_um"], slide["mpp_y_um"] or slide["mpp_x_um"]
    page: Page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])

    # The new keys are in the page's list, under the tool's own key.
    table = page.get_by_role("table", name="Keyboard shortcuts")
    rows = table.get_by_role("row").all_text_contents()
    tool_row = next(i for i, row in enumerate(rows) if "Measuring tool on or off" in row)
    assert rows[tool_row + 1].startswith("Enter or Space"), rows

    # Full resolution (one screen pixel per slide pixel), then the viewer takes the focus.
    page.get_by_role("button", name="Full resolution").click()
    viewer = page.get_by_role("region", name="Slide viewer", exact=True)
    viewer.scroll_into_view_if_needed()
    canvas = viewer.locator("[tabindex]").first
    canvas.focus()
    expect(canvas).to_be_focused()
    centre_when_still(page)

    page.keyboard.press("m")
    measure = page.get_by_role("button", name="Measure")
    expect(measure).to_have_attribute("aria-pressed", "true")
    # Announced, since the focus stays on the viewer and not on the button.
    expect(page.get_by_role("status").filter(has_text="press Enter or Space")).to_be_visible()
    cross = viewer.locator(".measure-crosshair")
    expect(cross).to_be_visible()
    # The cross is at the middle of the viewer.
    cross_box, viewer_box = cross.bounding_box(), viewer.bounding_box()
    assert cross_box is not None and viewer_box is not None
    middle_x = viewer_box["x"] + viewer_box["width"] / 2
    middle_y = viewer_box["y"] + viewer_box["height"] / 2
    assert cross_box["x"] + cross_box["width"] / 2 == pytest.approx(middle_x, abs=1.5)
    assert cross_box["y"] + cross_box["height"] / 2 == pytest.approx(middle_y, abs=1.5)

    readout = page.get_by_role("status").filter(has_text="Line started")
    start = centre_when_still(page)
    page.keyboard.press("Enter")
    expect(readout).to_be_visible()
    right_presses, down_presses = 4, 3
    # One press at a time: a press while the last one still pans only lengthens that pan.
    for key in ["ArrowRight"] * right_presses + ["s"] * down_presses:  # W A S D pan too
        page.keyboard.press(key)
        end = centre_when_still(page)
    expect(canvas).to_be_focused()
    page.keyboard.press("Enter")

    dx_px, dy_px = end["x"] - start["x"], end["y"] - start["y"]
    zoom = end["imageZoom"]
    assert dx_px * zoom >= right_presses * MIN_PAN_PER_PRESS_PX, (start, end)
    assert dy_px * zoom >= down_presses * MIN_PAN_PER_PRESS_PX, (start, end)
    expected_um = math.hypot(dx_px * mpp_x, dy_px * mpp_y)
    status = page.get_by_role("status").filter(has_text="Measured length:")
    expect(status).to_be_visible()
    assert status.get_attribute("aria-live") == "polite"
    shown = shown_um(status.text_content() or "")
    # The readout rounds to 0.1 µm (or 1 µm as mm with three decimals).
    assert abs(shown - expected_um) <= max(0.06, expected_um * 0.001), (shown, expected_um)
    stored_um = float(status.get_attribute("data-length-um") or "nan")
    assert stored_um == pytest.approx(expected_um, abs=0.01)
    expect(viewer.locator(".measure-overlay.has-line")).to_have_count(1)
    screenshot(page, "case-measure-keyboard")
    assert_accessible(page, "case-measure-keyboard-a11y")

    # A second line begun, then Esc: the half line goes, and so does the tool.
    page.keyboard.press(" ")
    expect(page.get_by_role("status").filter(has_text="Line started")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Escape")
    expect(measure).to_have_attribute("aria-pressed", "false")
    cancelled = page.get_by_role("status").filter(has_text="Measurement cancelled.")
    expect(cancelled).to_be_visible()
    expect(cross).to_be_hidden()
    expect(viewer.locator(".measure-overlay.has-line")).to_have_count(0)
    # With the tool off, Enter on the viewer measures nothing.
    page.keyboard.press("Enter")
    expect(cancelled).to_have_text("Measurement cancelled.")
    expect(viewer.locator(".measure-overlay.has-line")).to_have_count(0)
