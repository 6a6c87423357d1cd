"""The pages as served (viewer/pages.py): files named by content, one import map naming every
module, the whole module graph preloaded, the next page's files prefetched."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from viewer.assets import ViewerAssets, viewer_assets
from viewer.pages import (
    IMMUTABLE_CACHE_CONTROL,
    REVALIDATED_CACHE_CONTROL,
    StaticVersions,
    module_graph,
    render_page,
)

IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)


@pytest.fixture(scope="module")
def assets() -> ViewerAssets:
    return viewer_assets()


def page(assets: ViewerAssets, name: str) -> str:
    return assets.page(name).read_text(encoding="utf-8")


def import_map(html: str) -> dict[str, str]:
    (body,) = IMPORT_MAP.findall(html)
    imports: dict[str, str] = json.loads(body)["imports"]
    return imports


def test_every_module_is_named_by_its_version_in_the_import_map(assets: ViewerAssets) -> None:
    versions = StaticVersions(assets)
    imports = import_map(render_page(page(assets, "case"), versions).html)
    modules = {f"/static/js/{path.name}" for path in (assets.static_dir / "js").glob("*.js")}
    assert modules <= set(imports)
    for module in modules:
        assert re.fullmatch(re.escape(module) + r"\?v=[0-9a-f]{16}", imports[module]), module
    # A module imported by a literal import() of a module (charts.js: Vega) is named too.
    vega = "/static/vendor/vega/vega.min.js"
    assert imports[vega].startswith(f"{vega}?v=")


def test_a_page_keeps_its_own_import_map_entries_versioned(assets: ViewerAssets) -> None:
    imports = import_map(render_page(page(assets, "desk-backlog"), StaticVersions(assets)).html)
    assert imports["vega-util"].startswith("/static/vendor/vega-util/index.js?v=")


def test_the_whole_module_graph_is_preloaded_before_the_modules(assets: ViewerAssets) -> None:
    versions = StaticVersions(assets)
    html = render_page(page(assets, "case"), versions).html
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"?]+)\?v=', html)
    # annotation-marks.js is three imports deep: annotations.js -> annotation-layers.js -> it.
    assert "/static/js/annotation-marks.js" in preloaded
    assert preloaded == module_graph(versions, re.findall(r'type="module" src="([^"?]+)', html))
    assert len(preloaded) == len(set(preloaded))
    assert html.index('type="importmap"') < html.index("modulepreload") < html.index('"module"')
    # The scripts are not preloaded twice: what a <script type="module"> loads is not listed.
    assert "/static/js/case.js" not in preloaded


def test_the_worklist_prefetches_the_case_pages_files(assets: ViewerAssets) -> None:
    versions = StaticVersions(assets)
    case = render_page(page(assets, "case"), versions)
    worklist = render_page(page(assets, "worklist"), versions, prefetch=case.files)
    prefetched = re.findall(r'<link rel="prefetch" href="([^"]+)">', worklist.html)
    # What the worklist loads itself (api.js, app.css) is not asked for twice.
    assert prefetched == [url for url in case.files if url not in worklist.files]
    assert any(url.startswith("/static/js/api.js?v=") for url in worklist.files)
    assert any(url.startswith("/static/js/annotation-marks.js?v=") for url in prefetched)
    assert any(url.startswith("/static/css/case.css?v=") for url in prefetched)
    assert worklist.html.index("prefetch") < worklist.html.index("</head>")


def test_a_version_is_the_content_and_changes_with_it(tmp_path: Path, assets: ViewerAssets) -> None:
    static = tmp_path / "static"
    shutil.copytree(assets.static_dir, static)
    copied = ViewerAssets(static_dir=static, vendor_dirs=assets.vendor_dirs)
    before = StaticVersions(copied).versioned("/static/js/api.js")
    assert before == StaticVersions(assets).versioned("/static/js/api.js")
    (static / "js" / "api.js").write_text("export const changed = true;\n", encoding="utf-8")
    after = StaticVersions(copied)
    assert after.versioned("/static/js/api.js") != before
    old_version = before.split("?v=")[1]
    assert after.cache_control("/static/js/api.js", old_version) == REVALIDATED_CACHE_CONTROL
    new_version = after.versioned("/static/js/api.js").split("?v=")[1]
    assert after.cache_control("/static/js/api.js", new_version) == IMMUTABLE_CACHE_CONTROL
    assert after.cache_control("/static/js/api.js", None) == REVALIDATED_CACHE_CONTROL


@pytest.mark.parametrize(
    "url",
    ["/static/../services/app.py", "/static/vendor/nothing/x.js", "/static/js/none.js", "/x.js"],
)
def test_no_version_for_what_no_file_answers(assets: ViewerAssets, url: str) -> None:
    versions = StaticVersions(assets)
    assert versions.file_for(url) is None
    assert versions.versioned(url) == url


def test_a_page_that_loads_nothing_in_its_head_is_refused(assets: ViewerAssets) -> None:
    with pytest.raises(ValueError, match="<head>"):
        render_page("<html><head><title>x</title></head></html>", StaticVersions(assets))


def test_a_script_a_module_adds_later_is_named_and_prefetched(assets: ViewerAssets) -> None:
    """Annotorious' bundle, a classic script annotation-layers.js adds after the first tile
    (``import.meta.resolve`` of its URL): named by the import map, prefetched by the worklist."""
    versions = StaticVersions(assets)
    bundle = "/static/vendor/annotorious/annotorious-openseadragon.js"
    case = render_page(page(assets, "case"), versions)
    assert import_map(case.html)[bundle] == versions.versioned(bundle) != bundle
    assert versions.versioned(bundle) in case.files
    worklist = render_page(page(assets, "worklist"), versions, prefetch=case.files)
    assert f'<link rel="prefetch" href="{versions.versioned(bundle)}">' in worklist.html
