"""Annotations on the case page in Chromium: drawn with each tool, stored as GeoJSON in slide
level-0 pixels, found again after a reload, relabelled, reshaped and deleted; seen by a
colleague of the same department (who may not change them); refused, with the page saying so,
to a pathologist of another department; and on the tissue under rotation and zoom.

The demo pathologists are ``alrijne`` (and colleagues), ``rdgg`` and ``ghz``; each test takes its
own cases from the end of the list (case_panels.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from tests.viewer.case_panels import (
    TO_SCREEN,
    annotation_item,
    drag,
    first_slide,
    open_case,
    primary_cases,
    slide_annotations,
    viewer_box,
)
from tests.viewer.conftest import ApiClient

PATHOLOGIST = "alrijne"
COLLEAGUE = "alrijne2"  # the same department (Alrijne)
OUTSIDER = "hmc"  # another department (HMC), not asked for anything on the case
DRAWER = "rdgg"  # the other tools, on a case of another pathologist's worklist
ROTATOR = "ghz"


def status(page: Page) -> Any:
    return page.get_by_role("status", name="Annotation status")


def test_the_configured_classes_are_offered(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient]
) -> None:
    api = api_as(PATHOLOGIST)
    code, rules = api.get("/annotation-classes")
    assert code == 200
    assert rules["classes"] == ["tumour", "stroma", "necrosis", "inflammation", "normal", "other"]
    assert rules["max_vertices"] > 0 and rules["max_per_slide"] > 0
    page = signed_in_page(PATHOLOGIST)
    open_case(page, primary_cases(api, own_department=True)[-1]["id"])
    options = page.get_by_label("Class of new annotations").locator("option").all_inner_texts()
    assert options == [*rules["classes"], "(no class)"]


def test_draw_reload_relabel_reshape_delete_and_who_sees_it(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient], screenshot: Any
) -> None:
    api = api_as(PATHOLOGIST)
    # A case of the pathologist's own department: their colleague there may see it.
    case = primary_cases(api, own_department=True)[-1]
    slide = first_slide(api, case["id"])
    before = {a["id"] for a in slide_annotations(api, slide["id"])}
    page = signed_in_page(PATHOLOGIST)
    open_case(page, case["id"])

    # Draw a rectangle: class and label chosen first, then a drag on the slide.
    page.get_by_label("Class of new annotations").select_option("stroma")
    page.get_by_label("Label of new annotations").fill("invasive front")
    page.get_by_role("button", name="Rectangle").click()
    expect(page.get_by_role("button", name="Rectangle")).to_have_attribute("aria-pressed", "true")
    box = viewer_box(page)
    left, top = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35
    drag(page, (left, top), (left + 120, top + 80))
    expect(status(page)).to_contain_text("Annotation saved (stroma, invasive front)")
    [stored] = [a for a in slide_annotations(api, slide["id"]) if a["id"] not in before]
    assert (stored["class_name"], stored["label"], stored["author"]) == (
        "stroma",
        "invasive front",
        PATHOLOGIST,
    )
    geometry = stored["geojson"]["geometry"]
    assert stored["geojson"]["properties"] == {"shape": "rectangle"}
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"][0]) == 5
    corners = np.array(geometry["coordinates"][0])
    assert (corners >= 0).all()
    assert (corners[:, 0] <= slide["width_px"]).all() and (
        corners[:, 1] <= slide["height_px"]
    ).all()
    # Stored in level-0 pixels: the drawn corner is where the viewer's transform puts it.
    screen_corner = page.evaluate(TO_SCREEN, corners.min(axis=0).tolist())
    assert (
        abs(box["x"] + screen_corner[0] - left) < 3 and abs(box["y"] + screen_corner[1] - top) < 3
    )

    # Found again after a reload, with class, label and author.
    page.reload()
    open_case(page, case["id"])
    item = annotation_item(page, "invasive front")
    expect(item).to_contain_text("stroma · Rectangle")
    expect(item).to_contain_text(f"by {PATHOLOGIST}")
    item.focus()
    expect(item).to_be_focused()

    # Relabelled and reclassified in the panel.
    item.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit annotation")
    form.get_by_label("Label").fill("tumour border")
    form.get_by_label("Class").select_option("tumour")
    form.get_by_role("button", name="Save").click()
    expect(status(page)).to_contain_text("Annotation changed (tumour, tumour border)")
    expect(annotation_item(page, "tumour border")).to_contain_text("tumour · Rectangle")
    [edited] = [a for a in slide_annotations(api, slide["id"]) if a["id"] == stored["id"]]
    assert (edited["label"], edited["class_name"], edited["version"]) == (
        "tumour border",
        "tumour",
        2,
    )

    # Reshaped in the viewer: "Reshape" frames it with the handles on; a drag from its
    # middle moves it, a click beside it ends the edit and saves it.
    annotation_item(page, "tumour border").get_by_role("button", name="Reshape").click()
    page.wait_for_timeout(1500)  # the frame's animation
    box = viewer_box(page)
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    drag(page, middle, (middle[0] + 40, middle[1] + 30))
    page.mouse.click(box["x"] + 20, box["y"] + 20)
    expect(status(page)).to_contain_text("Annotation reshaped (tumour, tumour border)")
    [moved] = [a for a in slide_annotations(api, slide["id"]) if a["id"] == stored["id"]]
    assert moved["version"] == 3
    moved_corners = np.array(moved["geojson"]["geometry"]["coordinates"][0])
    shift = moved_corners.min(axis=0) - corners.min(axis=0)
    assert shift[0] > 0 and shift[1] > 0, shift
    assert moved["geojson"]["properties"] == {"shape": "rectangle"}
    screenshot(page, "annotations-drawn")

    # A colleague of the same department sees it, and may not change it.
    colleague = signed_in_page(COLLEAGUE)
    open_case(colleague, case["id"])
    theirs = annotation_item(colleague, "tumour border")
    expect(theirs).to_contain_text(f"by {PATHOLOGIST}")
    expect(theirs.get_by_role("button", name="Show")).to_be_visible()
    expect(theirs.get_by_role("button", name="Edit")).to_have_count(0)
    expect(theirs.get_by_role("button", name="Delete")).to_have_count(0)

    # A pathologist of another department gets 403, and the page says so.
    code, refusal = api_as(OUTSIDER).get(f"/cases/{case['id']}")
    assert code == 403
    outsider = signed_in_page(OUTSIDER)
    outsider.goto(f"/case/{case['id']}")
    expect(outsider.get_by_role("heading", name="Case not available")).to_be_visible()
    expect(outsider.get_by_role("alert")).to_contain_text(refusal["detail"])
    expect(outsider.get_by_role("heading", name="Annotations")).to_have_count(0)
    expect(outsider.get_by_text("tumour border")).to_have_count(0)
    screenshot(outsider, "annotations-other-department-403")

    # Deleted, after a confirmation on the page; gone for everyone.
    item = annotation_item(page, "tumour border")
    item.get_by_role("button", name="Delete").click()
    item.get_by_role("group", name="Confirm deletion").get_by_role(
        "button", name="Confirm delete"
    ).click()
    expect(status(page)).to_contain_text("Annotation deleted (tumour, tumour border)")
    assert stored["id"] not in {a["id"] for a in slide_annotations(api, slide["id"])}
    colleague.reload()
    open_case(colleague, case["id"])
    expect(annotation_item(colleague, "tumour border")).to_have_count(0)


def test_polygon_point_and_line_are_stored_as_geojson(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient]
) -> None:
    api = api_as(DRAWER)
    case = primary_cases(api)[-1]
    slide = first_slide(api, case["id"])
    before = {a["id"] for a in slide_annotations(api, slide["id"])}
    page = signed_in_page(DRAWER)
    open_case(page, case["id"])
    page.get_by_label("Class of new annotations").select_option("necrosis")

    page.get_by_role("button", name="Polygon").click()
    box = viewer_box(page)
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    for dx, dy in [(0, 0), (100, 10), (60, 90)]:
        page.mouse.click(x + dx, y + dy)
    page.mouse.click(x, y)  # the first corner again closes it
    expect(status(page)).to_contain_text("Annotation saved (necrosis)")

    page.get_by_role("button", name="Point").click()
    box = viewer_box(page)
    point_at = (box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.mouse.click(*point_at)
    expect(annotation_item(page, "necrosis · Point")).to_have_count(1)

    page.get_by_role("button", name="Line").click()
    box = viewer_box(page)
    start = (box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.6)
    drag(page, start, (start[0] + 150, start[1] + 40))
    expect(annotation_item(page, "necrosis · Line")).to_have_count(1)

    # Choosing the tool again stops drawing; the ruler taking the pointer stops it too.
    page.get_by_role("button", name="Line").click()
    expect(page.get_by_role("button", name="Line")).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="Point").click()
    page.get_by_role("button", name="Measure").click()
    expect(page.get_by_role("button", name="Point")).to_have_attribute("aria-pressed", "false")

    new = [a for a in slide_annotations(api, slide["id"]) if a["id"] not in before]
    by_shape = {a["geojson"]["properties"]["shape"]: a["geojson"]["geometry"] for a in new}
    assert set(by_shape) == {"polygon", "point", "line"}
    assert by_shape["polygon"]["type"] == "Polygon"
    ring = by_shape["polygon"]["coordinates"][0]
    assert len(ring) == 4 and ring[0] == ring[-1]
    assert by_shape["point"]["type"] == "Point"
    assert by_shape["line"]["type"] == "LineString" and len(by_shape["line"]["coordinates"]) == 2
    # The point is stored where it was clicked, in level-0 pixels.
    screen = page.evaluate(TO_SCREEN, by_shape["point"]["coordinates"])
    box = viewer_box(page)
    # (the page may have scrolled since the click: compare within the viewer)
    assert abs(screen[0] - (point_at[0] - box["x"])) < 3
    assert all(a["class_name"] == "necrosis" for a in new)

    # After a reload each is listed with its kind, and the point and line are drawn.
    page.reload()
    open_case(page, case["id"])
    for kind in ("Polygon", "Point", "Line"):
        expect(annotation_item(page, f"necrosis · {kind}")).to_have_count(1)
    marks = page.locator("svg.annotation-marks")
    expect(marks.locator("circle.annotation-point")).to_have_count(1)
    expect(marks.locator("polyline.annotation-line")).to_have_count(1)


def _viewer_pixels(page: Page) -> np.ndarray:
    png = page.get_by_role("region", name="Slide viewer").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int32)


def _drawn_centre(page: Page, besides: tuple[float, float]) -> tuple[float, float]:
    """Where the annotation layer draws: the centre of the pixels that change when the
    annotations are hidden (viewer element pixels), leaving out those within 15 px of
    ``besides`` (a point drawn by the other layer)."""
    toggle = page.get_by_label("Show annotations")
    shown = _viewer_pixels(page)
    toggle.uncheck()
    page.wait_for_timeout(300)
    hidden = _viewer_pixels(page)
    toggle.check()
    page.wait_for_timeout(300)
    changed = np.abs(shown - hidden).sum(axis=2) > 60
    ys, xs = np.indices(changed.shape)
    changed &= np.hypot(xs - besides[0], ys - besides[1]) > 15
    rows, cols = np.nonzero(changed)
    assert rows.size > 50, "the annotation is not drawn"
    return float(cols.mean()), float(rows.mean())


def _settle(page: Page) -> None:
    page.wait_for_timeout(1200)  # the viewer's animation (0.6 s) and a redraw
    page.wait_for_function(
        "() => window.__viewer.world.getItemAt(0).getFullyLoaded()", timeout=30_000
    )


def test_annotations_stay_on_the_tissue_under_rotation_and_zoom(
    signed_in_page: Callable[..., Page], api_as: Callable[[str], ApiClient], screenshot: Any
) -> None:
    api = api_as(ROTATOR)
    case = primary_cases(api)[-1]
    slide = first_slide(api, case["id"])
    width, height = slide["width_px"], slide["height_px"]
    # A square a little off the slide's centre, and a point at another place.
    x0, y0, side = width * 0.55, height * 0.4, min(width, height) * 0.1
    square = [[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]
    centre = [x0 + side / 2, y0 + side / 2]
    point = [width * 0.35, height * 0.6]
    for shape, geometry in (
        ("rectangle", {"type": "Polygon", "coordinates": [square]}),
        ("point", {"type": "Point", "coordinates": point}),
    ):
        code, _ = api.post(
            f"/slides/{slide['id']}/annotations",
            {
                "class_name": "tumour",
                "label": f"rotation {shape}",
                "geojson": {
                    "type": "Feature",
                    "properties": {"shape": shape},
                    "geometry": geometry,
                },
            },
        )
        assert code == 201
    page = signed_in_page(ROTATOR)
    open_case(page, case["id"])
    viewer_box(page)

    def check(view: str) -> None:
        _settle(page)
        # The point, drawn by the page's own layer, where the viewer's transform puts it.
        circle = page.locator("svg.annotation-marks circle.annotation-point")
        cx, cy = (float(circle.get_attribute(name) or "nan") for name in ("cx", "cy"))
        expected = page.evaluate(TO_SCREEN, point)
        assert abs(cx - expected[0]) < 1 and abs(cy - expected[1]) < 1, (view, cx, cy, expected)
        # Annotorious' regions: drawn where the viewer's transform puts the square's centre.
        drawn = _drawn_centre(page, besides=(cx, cy))
        expected = page.evaluate(TO_SCREEN, centre)
        assert abs(drawn[0] - expected[0]) < 4 and abs(drawn[1] - expected[1]) < 4, (
            view,
            drawn,
            expected,
        )
        screenshot(page, f"annotations-{view}")

    check("upright")
    page.get_by_role("button", name="Rotate right 90°").click()
    check("rotated-90")
    page.get_by_label("Rotation (degrees)").fill("135")
    check("rotated-135")
    page.get_by_role("button", name="Zoom in").click()
    check("rotated-zoomed")
