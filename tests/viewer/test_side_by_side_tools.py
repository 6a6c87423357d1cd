"""The second viewer of side by side has the case view's tools, in Chromium on the demo: a line
measured there is that slide's level-0 length times that slide's own mpp (a scan of its own,
dropped for this test with another mpp than the main slide's), the readout naming the slide;
the slide's annotations, made through the API, are drawn read-only where the second viewer's
own transform puts them and stay there under the rotation side by side keeps in step, with a
toggle; a second slide that cannot be opened says why (role alert), leaves no scale bar and no
tools, and another slide chosen after it opens. axe-core, screenshots.

Each test works on a case of a pathologist account of its own, with scans of its own
(test_unopenable_slide.py's way), so nothing depends on what other tests left.
"""

from __future__ import annotations

import io
import math
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.viewer.case_panels import drag, first_slide, open_case
from tests.viewer.conftest import ApiClient, DemoServer
from tests.viewer.own_case import OwnCase
from tests.viewer.scans import drop_scan
from tests.viewer.test_case_view import settle, tissue_fraction, viewer_state
from tests.viewer.test_unopenable_slide import settled_slide, stored_file, without_pyramid
from tiling.samples import fetch_sample

# The demo's scans all say 0.499 µm per pixel; the second slide here says 0.25 (the same
# number of characters in the Aperio description, so the TIFF's offsets stay right).
DEMO_MPP = b"MPP = 0.4990"
OWN_MPP = b"MPP = 0.2500"
OWN_MPP_UM = 0.25

GRAB_SECOND = """async () => {
  const page = await import("/static/js/case.js");
  window.__second = page.secondViewer();
  return window.__second !== null;
}"""
# The second viewer shows slide `id`, every tile of its view drawn; or none to draw (the views
# match in slide pixels: a part of a slide of about the main one's size can lie outside it).
SECOND_SHOWS = """(id) => {
  const viewer = window.__second;
  const image = viewer && viewer.world.getItemCount() > 0 && viewer.world.getItemAt(0);
  if (!image || !image.source.tilesUrl.includes(`/slides/${id}_files`)) return false;
  const view = viewer.viewport.getBoundsNoRotate(true);
  const outside = !view.intersection(image.getBoundsNoRotate(true));
  return image.getFullyLoaded() || outside;
}"""
SECOND_AT_FULL_RESOLUTION = """() => {
  const viewer = window.__second;
  viewer.viewport.zoomTo(viewer.world.getItemAt(0).imageToViewportZoom(1), null, true);
}"""
# Level-0 pixels -> pixels in the second viewer's element, through its own viewport.
SECOND_TO_SCREEN = """([x, y]) => {
  const p = window.__second.viewport.imageToViewerElementCoordinates(
    new OpenSeadragon.Point(x, y));
  return [p.x, p.y];
}"""
# The second viewer's centre in level-0 pixels once it has not moved for 10 frames (a key's
# pan has ended: OpenSeadragon 6 pans a press over several frames).
SECOND_CENTRE_WHEN_STILL = """() => new Promise((done) => {
  const viewer = window.__second;
  let last = null;
  let still = 0;
  const look = () => {
    const centre = viewer.viewport.viewportToImageCoordinates(viewer.viewport.getCenter(true));
    const now = `${centre.x},${centre.y}`;
    still = now === last ? still + 1 : 0;
    last = now;
    if (still >= 10) done({x: centre.x, y: centre.y});
    else requestAnimationFrame(look);
  };
  look();
})"""
PAN_PRESSES = ["ArrowRight", "ArrowRight", "s", "s"]

# How many pixels of the second viewer's OpenSeadragon canvas hold something drawn.
DRAWN_PIXELS = """() => {
  const canvas = window.__second.drawer.canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let alpha = 3; alpha < pixels.length; alpha += 4) drawn += pixels[alpha] > 0 ? 1 : 0;
  return drawn;
}"""


def scan_with_own_mpp(directory: Path) -> Path:
    """The demo's CMU-1 small region (2220 x 2967 px), saying 0.25 µm per pixel."""
    data = fetch_sample("CMU-1-Small-Region.svs").read_bytes()
    assert data.count(DEMO_MPP) > 0, "the sample no longer says 0.499 µm per pixel"
    path = directory / "own-mpp.svs"
    path.write_bytes(data.replace(DEMO_MPP, OWN_MPP))
    return path


def add_scan(
    demo_server: DemoServer,
    api: ApiClient,
    case: dict[str, Any],
    stain: str,
    source: Path | None = None,
) -> dict[str, Any]:
    """A scan of ``stain`` for the case's first block (scans.drop_scan; from ``source``
    instead of its small sample when given), once its pyramid job has ended; the slide."""
    block = case["specimens"][0]["blocks"][0]["label"]
    name = f"{case['accession_number']}_{block}_{stain}_{uuid.uuid4().hex[:6]}.svs"
    drop_scan(demo_server, case["department_code"], name, source)
    slide = settled_slide(api, case["id"], stain)
    return {**slide, "file_name": name}


def show_side_by_side(page: Page, slide: dict[str, Any]) -> Locator:
    """Side by side on, ``slide`` chosen as the second one and drawn; the second viewer."""
    page.get_by_role("button", name="Side by side").click()
    region = page.get_by_role("region", name="Second slide viewer")
    expect(region).to_be_visible()
    assert page.evaluate(GRAB_SECOND)
    choose(page, slide)
    return region


def choose(page: Page, slide: dict[str, Any]) -> None:
    """Choose ``slide`` as the second slide and wait until it is drawn."""
    page.get_by_label("Second slide", exact=True).select_option(label=slide_name(slide))
    page.wait_for_function(SECOND_SHOWS, arg=slide["id"], timeout=30_000)


def slide_name(slide: dict[str, Any]) -> str:
    return f"{slide['block_label']} {slide['stain']}"


def post_annotation(api: ApiClient, slide_id: int, shape: str, geometry: dict[str, Any]) -> None:
    code, answer = api.post(
        f"/slides/{slide_id}/annotations",
        {
            "class_name": "tumour",
            "label": f"second viewer {shape}",
            "geojson": {"type": "Feature", "properties": {"shape": shape}, "geometry": geometry},
        },
    )
    assert code == 201, answer


def region_pixels(region: Locator) -> np.ndarray:
    png = region.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int32)


def marks_group(region: Locator) -> Locator:
    """The group of the mark layer's points and lines in ``region`` (hidden with the toggle)."""
    return region.locator("svg.annotation-marks g").first


def next_frames(page: Page) -> None:
    """Wait two animation frames: what was asked of the viewer's layers is on screen."""
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def drawn_centre(page: Page, region: Locator, besides: tuple[float, float]) -> tuple[float, float]:
    """Where Annotorious draws in ``region``: the centre of the pixels that change when the
    second slide's annotations are hidden, leaving out those within 15 px of ``besides`` (the
    point the mark layer draws)."""
    toggle = page.get_by_label("Annotations in the second viewer")
    shown = region_pixels(region)
    toggle.uncheck()
    expect(marks_group(region)).to_have_attribute("visibility", "hidden")
    next_frames(page)
    hidden = region_pixels(region)
    toggle.check()
    expect(marks_group(region)).to_have_attribute("visibility", "visible")
    next_frames(page)
    changed = np.abs(shown - hidden).sum(axis=2) > 60
    ys, xs = np.indices(changed.shape)
    changed &= np.hypot(xs - besides[0], ys - besides[1]) > 15
    rows, cols = np.nonzero(changed)
    assert rows.size > 50, "the region is not drawn in the second viewer"
    return float(cols.mean()), float(rows.mean())


def test_the_second_viewer_measures_with_its_own_mpp_and_shows_its_annotations(
    demo_server: DemoServer,
    own_case: OwnCase,
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
    tmp_path: Path,
) -> None:
    api, case = own_case.api, own_case.case
    slide = add_scan(demo_server, api, case, "PAS", scan_with_own_mpp(tmp_path))
    assert slide["pyramid_status"] == "ready", slide
    code, details = api.get(f"/slides/{slide['id']}")
    assert code == 200 and details["mpp_x_um"] == pytest.approx(OWN_MPP_UM), details
    width, height = details["width_px"], details["height_px"]
    # On slide B, through the API: a point, and a square elsewhere.
    point = [width * 0.4, height * 0.42]
    x0, y0, side = width * 0.55, height * 0.55, min(width, height) * 0.12
    square = [[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]
    square_centre = [x0 + side / 2, y0 + side / 2]
    post_annotation(api, slide["id"], "point", {"type": "Point", "coordinates": point})
    post_annotation(api, slide["id"], "rectangle", {"type": "Polygon", "coordinates": [square]})

    page = own_case.open_page()
    open_case(page, case["id"])
    region = show_side_by_side(page, slide)
    region.scroll_into_view_if_needed()
    # Slide B is another size than the main slide (the demo's are generated larger): the
    # views match relative to each slide, the same fraction across and down in the centre and
    # the same fraction of each slide's width on screen.
    main_slide = first_slide(api, case["id"])
    assert not math.isclose(main_slide["width_px"], width, rel_tol=0.1), "sizes alike"
    settle(page)
    settle(page, "__second")
    main_view, second_view = viewer_state(page), viewer_state(page, "window.__second")
    assert second_view["x"] / width == pytest.approx(main_view["x"] / main_slide["width_px"])
    assert second_view["y"] / height == pytest.approx(main_view["y"] / main_slide["height_px"])
    assert second_view["imageZoom"] * width == pytest.approx(
        main_view["imageZoom"] * main_slide["width_px"], rel=0.01
    )
    # The whole of slide B, asked of the second viewer itself (OpenSeadragon's "0" there; the
    # main one follows).
    region.locator("[tabindex]").first.focus()
    page.keyboard.press("0")

    # Read-only here, said by the viewer; the count of the slide's annotations.
    expect(page.get_by_text("Annotations are shown read-only here")).to_be_visible()
    expect(page.get_by_role("status", name="Second viewer's annotations")).to_have_text(
        "This slide has 2 annotations."
    )
    toggle = page.get_by_label("Annotations in the second viewer")
    expect(toggle).to_be_checked()
    circle = region.locator("svg.annotation-marks circle.annotation-point")
    expect(circle).to_have_count(1)
    # The main viewer's own layer does not show slide B's point.
    main = page.get_by_role("region", name="Slide viewer", exact=True)
    expect(main.locator("circle.annotation-point")).to_have_count(0)

    def check(view: str) -> None:
        settle(page)
        settle(page, "__second")
        screenshot(page, f"side-by-side-annotations-{view}")
        cx, cy = (float(circle.get_attribute(name) or "nan") for name in ("cx", "cy"))
        expected = page.evaluate(SECOND_TO_SCREEN, point)
        assert abs(cx - expected[0]) < 1 and abs(cy - expected[1]) < 1, (view, cx, cy, expected)
        drawn = drawn_centre(page, region, besides=(cx, cy))
        expected = page.evaluate(SECOND_TO_SCREEN, square_centre)
        assert abs(drawn[0] - expected[0]) < 4 and abs(drawn[1] - expected[1]) < 4, (
            view,
            drawn,
            expected,
        )

    check("upright")
    page.get_by_role("button", name="Rotate right 90°").click()
    check("rotated-90")
    assert viewer_state(page, "window.__second")["rotation"] == pytest.approx(90)

    # Hidden with its toggle; the main viewer's own toggle is another.
    toggle.uncheck()
    expect(marks_group(region)).to_have_attribute("visibility", "hidden")
    toggle.check()

    # Measure in the second viewer, at one screen pixel per slide pixel: 240 x 180 px of
    # slide B is 300 px, times slide B's mpp (not the main slide's 0.499). "Full resolution"
    # acts on the main viewer, whose slide is of another size: the second viewer, focused (it
    # leads), is zoomed to 1:1 itself, and the main one follows.
    region.locator("[tabindex]").first.focus()
    page.evaluate(SECOND_AT_FULL_RESOLUTION)
    settle(page)
    settle(page, "__second")
    assert viewer_state(page, "window.__second")["imageZoom"] == pytest.approx(1, rel=1e-3)
    page.get_by_role("button", name="Measure").click()
    expect(region.locator(".measure-crosshair")).to_be_visible()
    centre = viewer_state(page, "window.__second")
    start = (centre["x"] - 120, centre["y"] - 90)
    end = (centre["x"] + 120, centre["y"] + 90)
    box = region.bounding_box()
    assert box is not None
    (sx, sy), (ex, ey) = (page.evaluate(SECOND_TO_SCREEN, list(p)) for p in (start, end))
    drag(page, (box["x"] + sx, box["y"] + sy), (box["x"] + ex, box["y"] + ey))
    readout = page.get_by_role("status").filter(has_text="Measured length on")
    expected_um = math.hypot(240 * OWN_MPP_UM, 180 * OWN_MPP_UM)
    expect(readout).to_have_text(f"Measured length on {slide_name(slide)}: {expected_um:.1f} µm")
    assert float(readout.get_attribute("data-length-um") or "nan") == pytest.approx(
        expected_um, rel=0.005
    )
    # The drag drew the line; it panned neither viewer.
    assert viewer_state(page, "window.__second")["x"] == pytest.approx(centre["x"], abs=0.5)
    expect(region.locator(".measure-overlay.has-line")).to_have_count(1)
    # The second slide's scale bar is its own: its width is its length at slide B's mpp.
    bar = region.get_by_role("img", name="Scale bar", exact=False)
    label = bar.get_attribute("aria-label") or ""
    number, unit = label.removeprefix("Scale bar: ").split()
    bar_um = float(number) * (1000 if unit == "mm" else 1)
    bar_box = region.locator(".scale-bar-line").bounding_box()
    assert bar_box is not None
    assert bar_box["width"] * OWN_MPP_UM == pytest.approx(bar_um, rel=0.03)
    screenshot(page, "side-by-side-measure")
    assert_accessible(page, "side-by-side-tools-a11y")

    # From the keyboard, the second viewer focused: Enter at its centre cross, pan, Enter.
    region.locator("[tabindex]").first.focus()
    start_point = page.evaluate(SECOND_CENTRE_WHEN_STILL)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Line started")).to_be_visible()
    for key in PAN_PRESSES:  # one at a time: a press while one pans only lengthens that pan
        page.keyboard.press(key)
        end_point = page.evaluate(SECOND_CENTRE_WHEN_STILL)
    page.keyboard.press("Enter")
    dx_px, dy_px = end_point["x"] - start_point["x"], end_point["y"] - start_point["y"]
    assert abs(dx_px) > 20 and abs(dy_px) > 20, (start_point, end_point)
    expected_um = math.hypot(dx_px, dy_px) * OWN_MPP_UM
    expect(readout).to_contain_text(f"Measured length on {slide_name(slide)}:")
    page.wait_for_function(
        "(expected) => Math.abs(Number(document.getElementById('measurement')"
        ".dataset.lengthUm) - expected) < 0.01",
        arg=expected_um,
    )
    page.keyboard.press("Escape")
    expect(region.locator(".measure-crosshair")).to_be_hidden()


# Opens a slide that cannot be opened and, before it has failed, one that can, in one viewer.
TWO_OPENS_AT_ONCE = """async ([brokenUrl, goodUrl]) => {
  const { createViewer, openSlideImage } = await import("/static/js/viewer.js");
  const element = document.createElement("div");
  element.style.cssText = "width: 200px; height: 200px";
  document.body.append(element);
  const viewer = createViewer(element);
  const first = openSlideImage(viewer, brokenUrl);
  const second = openSlideImage(viewer, goodUrl);
  const outcomes = [await first, await second];
  viewer.destroy();
  element.remove();
  return outcomes;
}"""


def test_a_slide_opened_while_an_unopenable_one_fails_is_not_taken_for_it(
    demo_server: DemoServer, own_case: OwnCase
) -> None:
    # Choosing a slide and at once another (side by side turned on opens the first other
    # slide): the first one's late failure belonged to it alone, the second still opens.
    api, case = own_case.api, own_case.case
    broken = add_scan(demo_server, api, case, "GIEMSA")
    stored_file(demo_server, broken["file_name"]).unlink()
    without_pyramid(demo_server, broken["id"])
    slides = api.all_items(f"/cases/{case['id']}/slides")
    good = next(s for s in slides if s["id"] != broken["id"] and not s["withdrawn_at"])
    page = own_case.open_page()
    open_case(page, case["id"])
    first, second = page.evaluate(TWO_OPENS_AT_ONCE, [broken["dzi_url"], good["dzi_url"]])
    assert first is not None and "cannot be opened" in first, first
    assert second is None, second


def test_a_second_slide_that_cannot_be_opened_says_why(
    demo_server: DemoServer,
    own_case: OwnCase,
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
) -> None:
    api, case = own_case.api, own_case.case
    broken = add_scan(demo_server, api, case, "GIEMSA")
    stored_file(demo_server, broken["file_name"]).unlink()
    without_pyramid(demo_server, broken["id"])
    status, body = api.get(f"/slides/{broken['id']}.dzi")
    assert (status, body["error"]) == (410, "slide_file_missing"), body
    # The main slide opens: shown beside itself, it is the good second slide (the case may
    # have had only the one slide before the broken scan).
    slides = api.all_items(f"/cases/{case['id']}/slides")
    good = next(s for s in slides if s["id"] != broken["id"] and not s["withdrawn_at"])

    page = own_case.open_page()
    open_case(page, case["id"])
    region = show_side_by_side(page, good)
    scale_bar = region.locator(".scale-bar")
    expect(scale_bar).to_be_visible()
    tools = page.get_by_label("Annotations in the second viewer")
    expect(tools).to_be_visible()

    page.get_by_label("Second slide", exact=True).select_option(label=slide_name(broken))
    note = region.get_by_role("alert", name="Slide cannot be opened")
    expect(note).to_be_visible()
    expect(note).to_contain_text(
        "This slide cannot be opened: its file is missing from the slide store. "
        "Ask the lab to rescan it."
    )
    expect(region.get_by_text("Unable to open")).to_be_hidden()
    expect(scale_bar).to_be_hidden()  # none left over from the slide before
    assert page.evaluate(DRAWN_PIXELS) == 0, "the slide before is still drawn"
    expect(tools).to_be_hidden()
    expect(page.get_by_text("Annotations are shown read-only here")).to_be_hidden()
    # The measuring tool's cross shows on the main viewer only.
    page.get_by_role("button", name="Measure").click()
    main = page.get_by_role("region", name="Slide viewer", exact=True)
    expect(main.locator(".measure-crosshair")).to_be_visible()
    expect(region.locator(".measure-crosshair")).to_be_hidden()
    # The main viewer is untouched: its slide, its tools.
    expect(main.get_by_role("alert", name="Slide cannot be opened")).to_be_hidden()
    expect(page.get_by_role("toolbar", name="Drawing tools")).to_be_visible()
    assert_accessible(page, "side-by-side-slide-cannot-be-opened")
    page.keyboard.press("Escape")

    # Another slide chosen after it opens, with its tools, and the note goes.
    choose(page, good)
    expect(note).to_be_hidden()
    expect(scale_bar).to_be_visible()
    expect(tools).to_be_visible()
    assert tissue_fraction(region.screenshot()) > 0.05
    screenshot(page, "side-by-side-after-unopenable")


def test_an_annotation_saved_in_the_main_viewer_shows_on_the_same_slide_beside_it(
    demo_server: DemoServer,
    own_case: OwnCase,
) -> None:
    api, case = own_case.api, own_case.case
    slides = [s for s in api.all_items(f"/cases/{case['id']}/slides") if not s["withdrawn_at"]]
    main_slide = slides[0]
    add_scan(demo_server, api, case, "PAS")  # a second slide: side by side needs two
    page = own_case.open_page()
    open_case(page, case["id"])
    show_side_by_side(page, main_slide)  # the same slide in both viewers
    count = page.get_by_role("status", name="Second viewer's annotations")
    expect(count).to_have_text(re.compile(r"This slide has (no|\d+) annotations?\."))
    before = len(api.all_items(f"/slides/{main_slide['id']}/annotations"))

    page.get_by_role("button", name="Point").click()
    page.get_by_role("button", name="Place point at centre").click()
    expect(page.get_by_role("status").filter(has_text="Annotation saved")).to_have_count(1)
    after = before + 1
    expect(count).to_have_text(f"This slide has {after} annotation{'' if after == 1 else 's'}.")
    stored = api.all_items(f"/slides/{main_slide['id']}/annotations")
    points = sum(a["geojson"]["geometry"]["type"] == "Point" for a in stored)
    region = page.get_by_role("region", name="Second slide viewer")
    expect(region.locator("svg.annotation-marks circle.annotation-point")).to_have_count(points)
