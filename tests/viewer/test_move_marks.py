"""Moving points and lines on the case page in Chromium: a point dragged with the mouse, a
line's end moved with the arrow keys (E chooses the end, Enter saves), upright and on a viewer
rotated 90°; stored through the API in level-0 pixels where OpenSeadragon's own conversion
of the pointer and of the key steps puts them, and found there again after a reload. Esc puts
a move back; a save refused because the annotation changed meanwhile says so and draws the
saved one; another author's line offers no move. axe-core and screenshots.

The pathologist is an account of the test's own on a case it claims (with the demo's slides);
a colleague of the case's department, an account of its own too, draws the other line: nothing
depends on what other tests left (a round of the manager's desk may give a demo pathologist
cases with other slides).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.case_panels import (
    TO_SCREEN,
    annotation_item,
    drag,
    first_slide,
    open_case,
    slide_annotations,
    viewer_box,
)
from tests.viewer.conftest import ApiClient, pathologist_without_account
from tests.viewer.own_case import claimed_case
from tests.viewer.test_annotations import status

TOLERANCE_PX = 1.5  # level-0 pixels

# The viewer has come to rest: where it is drawn is where it is going (no animation left).
SETTLED = """() => {
  const viewport = window.__viewer.viewport;
  const now = viewport.getBounds(true);
  const target = viewport.getBounds();
  const same = (a, b) => Math.abs(a - b) < 1e-9;
  return same(now.x, target.x) && same(now.y, target.y) && same(now.width, target.width)
    && same(viewport.getRotation(true), viewport.getRotation())
    && window.__viewer.world.getItemAt(0).getFullyLoaded();
}"""
# Where a drag from `from` to `to` (window pixels, as the mouse moves) takes the level-0 point
# `start`: OpenSeadragon's own conversion of the two pointer positions (page pixels).
DRAGGED_TO = """([start, from, to]) => {
  const viewport = window.__viewer.viewport;
  const image = ([x, y]) => viewport.windowToImageCoordinates(
    new OpenSeadragon.Point(x + window.scrollX, y + window.scrollY));
  const a = image(from);
  const b = image(to);
  return [start[0] + b.x - a.x, start[1] + b.y - a.y];
}"""
# Where `steps` key steps `[dx, dy]` on the screen take the level-0 point `start`, with the
# step the page uses (annotation-move.js), through OpenSeadragon's conversion.
STEPPED_TO = """async ([start, steps]) => {
  const { KEY_STEP_PX } = await import("/static/js/annotation-move.js");
  const image = window.__viewer.world.getItemAt(0);
  const screen = image.imageToViewerElementCoordinates(new OpenSeadragon.Point(...start));
  const to = image.viewerElementToImageCoordinates(new OpenSeadragon.Point(
    screen.x + steps[0] * KEY_STEP_PX, screen.y + steps[1] * KEY_STEP_PX));
  return [to.x, to.y];
}"""
BOUNDS = "() => window.__viewer.viewport.getBounds().toString()"
KEY_STEP = """async () => (await import("/static/js/annotation-move.js")).KEY_STEP_PX"""
# A change of the annotation's label by the page's own session: the panel still holds the
# version before, as if another tab had changed it.
CHANGE_ELSEWHERE = """async ({path, version}) => {
  const { api } = await import("/static/js/api.js");
  const answer = await api(path, {
    method: "PATCH", body: { label: "changed elsewhere" }, headers: { "If-Match": `"${version}"` },
  });
  return answer.version;
}"""


def settle(page: Page) -> None:
    page.wait_for_function(SETTLED, timeout=30_000)


def stored(api: ApiClient, slide_id: int, annotation_id: int) -> dict[str, Any]:
    [annotation] = [a for a in slide_annotations(api, slide_id) if a["id"] == annotation_id]
    return annotation


def assert_near(actual: list[float], expected: list[float], what: str) -> None:
    assert all(abs(a - e) <= TOLERANCE_PX for a, e in zip(actual, expected, strict=True)), (
        what,
        actual,
        expected,
    )


def circle_of(page: Page, annotation_id: int) -> Any:
    return page.locator(f'svg.annotation-marks circle[data-annotation-id="coupe-{annotation_id}"]')


def assert_point_drawn_at(page: Page, annotation_id: int, position: list[float]) -> None:
    """The point is drawn where the viewer's transform puts `position`."""
    settle(page)
    circle = circle_of(page, annotation_id)
    drawn = [float(circle.get_attribute(name) or "nan") for name in ("cx", "cy")]
    expected = page.evaluate(TO_SCREEN, position)
    assert all(abs(d - e) < 1 for d, e in zip(drawn, expected, strict=True)), (drawn, expected)


def move_point_by_mouse(page: Page, api: ApiClient, slide_id: int, point: dict[str, Any]) -> Any:
    """ "Move" on the point, a drag of it, a click beside it; the position expected."""
    annotation_item(page, "moved point").get_by_role("button", name="Move").click()
    expect(status(page)).to_contain_text("Moving the point")
    settle(page)
    box = viewer_box(page)
    start = point["geojson"]["geometry"]["coordinates"]
    sx, sy = page.evaluate(TO_SCREEN, start)
    grab = (round(box["x"] + sx), round(box["y"] + sy))
    release = (grab[0] + 60, grab[1] + 35)
    expected = page.evaluate(DRAGGED_TO, [start, list(grab), list(release)])
    drag(page, grab, release)
    page.mouse.click(box["x"] + 15, box["y"] + 15)  # beside it: saved
    expect(status(page)).to_contain_text("Annotation moved (other, moved point)")
    moved = stored(api, slide_id, point["id"])
    assert moved["version"] == point["version"] + 1
    assert moved["geojson"]["properties"] == {"shape": "point"}
    assert_near(moved["geojson"]["geometry"]["coordinates"], expected, "point")
    return moved


def move_line_end_by_keys(page: Page, api: ApiClient, slide_id: int, line: dict[str, Any]) -> Any:
    """ "Move" on the line, E twice (its end), the arrow keys, Enter; the line expected."""
    annotation_item(page, "moved line").get_by_role("button", name="Move").click()
    moving = page.get_by_role("group", name="Move annotation")
    expect(moving).to_be_focused()
    expect(moving).to_contain_text("Moving the whole line")
    settle(page)
    page.keyboard.press("e")
    expect(moving).to_contain_text("Moving the line's start")
    page.keyboard.press("e")
    expect(moving).to_contain_text("Moving the line's end")
    expect(status(page)).to_contain_text("Moving the line's end.")
    start, end = line["geojson"]["geometry"]["coordinates"]
    # three steps right, one Shift step (ten) down and one step up: nine down
    expected_end = page.evaluate(STEPPED_TO, [end, [3, 9]])
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowDown", "ArrowUp"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    expect(status(page)).to_contain_text("Annotation moved (other, moved line)")
    moved = stored(api, slide_id, line["id"])
    assert moved["version"] == line["version"] + 1
    new_start, new_end = moved["geojson"]["geometry"]["coordinates"]
    assert_near(new_start, start, "the line's start stays")
    assert_near(new_end, expected_end, "the line's end")
    return moved


def test_points_and_lines_move_by_mouse_and_keyboard_upright_and_rotated(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Any,
) -> None:
    mover = new_account("pathologist")
    api = api_as(mover["username"], mover["password"])
    case = claimed_case(api)
    slide = first_slide(api, case["id"])
    width, height = slide["width_px"], slide["height_px"]
    # The colleague (the case's department: sees the case, may not move the mover's marks)
    # draws a line away from where this test draws.
    admin = api_as("admin")
    colleague_code = pathologist_without_account(admin, department=case["department_code"])
    colleague = new_account("pathologist", pathologist_code=colleague_code["code"])
    code, theirs = api_as(colleague["username"], colleague["password"]).post(
        f"/slides/{slide['id']}/annotations",
        {
            "class_name": "tumour",
            "label": "their line",
            "geojson": {
                "type": "Feature",
                "properties": {"shape": "line"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[width * 0.15, height * 0.8], [width * 0.3, height * 0.85]],
                },
            },
        },
    )
    assert code == 201, theirs
    before = {a["id"] for a in slide_annotations(api, slide["id"])}
    page = signed_in_page(mover["username"], mover["password"])
    open_case(page, case["id"])

    # A point and a line, drawn on the page.
    page.get_by_label("Class of new annotations").select_option("other")
    label = page.get_by_label("Label of new annotations")
    label.fill("moved point")
    page.get_by_role("button", name="Point").click()
    box = viewer_box(page)
    page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45)
    expect(status(page)).to_contain_text("Annotation saved (other, moved point)")
    label.fill("moved line")
    page.get_by_role("button", name="Line").click()
    box = viewer_box(page)  # the click on the tool may have scrolled the page
    start = (box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55)
    drag(page, start, (start[0] + 120, start[1] + 50))
    expect(status(page)).to_contain_text("Annotation saved (other, moved line)")
    page.get_by_role("button", name="Line").click()  # drawing off
    new = {
        a["geojson"]["properties"]["shape"]: a
        for a in slide_annotations(api, slide["id"])
        if a["id"] not in before
    }
    point, line = new["point"], new["line"]

    # Upright: the point by mouse, the line's end by keyboard.
    point = move_point_by_mouse(page, api, slide["id"], point)
    assert_point_drawn_at(page, point["id"], point["geojson"]["geometry"]["coordinates"])
    line = move_line_end_by_keys(page, api, slide["id"], line)
    screenshot(page, "move-marks-upright")

    # Rotated 90°: the same, through the rotated transform.
    page.get_by_role("button", name="Rotate right 90°").click()
    settle(page)
    point = move_point_by_mouse(page, api, slide["id"], point)
    line = move_line_end_by_keys(page, api, slide["id"], line)
    assert_point_drawn_at(page, point["id"], point["geojson"]["geometry"]["coordinates"])

    # While moving: the keys are listed, the handles shown, and axe finds nothing serious.
    shortcuts = page.get_by_role("table", name="Keyboard shortcuts")
    expect(shortcuts).to_contain_text("Moving a line: move its start, its end, or all of it")
    expect(shortcuts).to_contain_text("Moving a point or line: save it there")
    annotation_item(page, "moved line").get_by_role("button", name="Move").click()
    expect(page.locator("svg.annotation-marks circle.annotation-handle")).to_have_count(2)
    settle(page)
    assert_accessible(page, "move-marks-rotated-moving")

    # Esc puts it back: nothing stored.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Escape")
    expect(status(page)).to_contain_text("Move cancelled: the annotation is back where it was.")
    expect(page.locator("svg.annotation-marks circle.annotation-handle")).to_have_count(0)
    assert stored(api, slide["id"], line["id"])["version"] == line["version"]

    # Clicked in the viewer, the point takes the viewer's keys: an arrow moves the point a step
    # on the screen (the slide does not pan), Esc puts it back.
    annotation_item(page, "moved point").get_by_role("button", name="Show").click()
    settle(page)
    box = viewer_box(page)
    px, py = page.evaluate(TO_SCREEN, point["geojson"]["geometry"]["coordinates"])
    page.mouse.click(box["x"] + px, box["y"] + py)
    expect(status(page)).to_contain_text("Moving the point")
    bounds = page.evaluate(BOUNDS)
    page.keyboard.press("ArrowLeft")
    circle = circle_of(page, point["id"])
    step = page.evaluate(KEY_STEP)
    assert abs(float(circle.get_attribute("cx") or "nan") - (px - step)) < 0.5
    assert page.evaluate(BOUNDS) == bounds
    page.keyboard.press("Escape")
    expect(status(page)).to_contain_text("Move cancelled: the annotation is back where it was.")
    assert_point_drawn_at(page, point["id"], point["geojson"]["geometry"]["coordinates"])
    assert stored(api, slide["id"], point["id"]) == point

    # Reload: both where they were moved to.
    page.reload()
    open_case(page, case["id"])
    assert stored(api, slide["id"], point["id"]) == point
    assert stored(api, slide["id"], line["id"]) == line
    assert_point_drawn_at(page, point["id"], point["geojson"]["geometry"]["coordinates"])

    # Changed elsewhere meanwhile: the move is refused, said, and the saved one drawn.
    version = page.evaluate(
        CHANGE_ELSEWHERE,
        {"path": f"/slides/{slide['id']}/annotations/{point['id']}", "version": point["version"]},
    )
    annotation_item(page, "moved point").get_by_role("button", name="Move").click()
    settle(page)
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")
    # The list is read again, and the refusal still says why (the reload once cleared it).
    expect(annotation_item(page, "changed elsewhere")).to_have_count(1)
    expect(status(page)).to_contain_text("Someone changed this annotation meanwhile")
    after = stored(api, slide["id"], point["id"])
    assert after["version"] == version
    assert after["geojson"] == point["geojson"]
    assert_point_drawn_at(page, point["id"], point["geojson"]["geometry"]["coordinates"])

    # The colleague's line: no Move in the list, and a click on it gives no handles.
    their_item = annotation_item(page, "their line")
    expect(their_item.get_by_role("button", name="Show")).to_be_visible()
    expect(their_item.get_by_role("button", name="Move")).to_have_count(0)
    their_item.get_by_role("button", name="Show").click()
    settle(page)
    box = viewer_box(page)
    a, b = theirs["geojson"]["geometry"]["coordinates"]
    middle = page.evaluate(TO_SCREEN, [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2])
    page.mouse.click(box["x"] + middle[0], box["y"] + middle[1])
    expect(their_item).to_have_class(re.compile(r"\bis-selected\b"))
    expect(page.locator("svg.annotation-marks circle.annotation-handle")).to_have_count(0)
    expect(page.get_by_role("group", name="Move annotation")).to_have_count(0)
    assert stored(api, slide["id"], theirs["id"])["version"] == theirs["version"]
    screenshot(page, "move-marks-theirs")
