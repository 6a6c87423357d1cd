"""Where the web app's files are: its own pages and scripts, and the npm packages it loads.

The pages (``viewer/static``) are part of the repository. The libraries they load
(OpenSeadragon, Annotorious) come from npm with the lockfile (``npm ci`` in ``viewer/``, which
``make setup`` runs) and are served by the app itself: nothing comes from a CDN, so the pages
work on a hospital network without internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "VENDOR_PACKAGES",
    "ViewerAssets",
    "ViewerAssetsMissingError",
    "viewer_assets",
]

_VIEWER_DIR = Path(__file__).resolve().parent

VENDOR_PACKAGES: dict[str, Path] = {
    "openseadragon": Path("openseadragon/build/openseadragon"),
    "annotorious": Path("@annotorious/openseadragon/dist"),
    # The desk's charts: Vega-Lite compiled to Vega, drawn with the expression interpreter
    # (no eval); vega-util is the interpreter's one import, resolved by the page's import map.
    "vega": Path("vega/build"),
    "vega-lite": Path("vega-lite/build"),
    "vega-embed": Path("vega-embed/build"),
    "vega-interpreter": Path("vega-interpreter/build"),
    "vega-util": Path("vega-util/build"),
}
"""URL name under ``/static/vendor/`` -> the folder of the npm package's built files."""


class ViewerAssetsMissingError(RuntimeError):
    """The npm packages the pages load are not installed."""


@dataclass(frozen=True, slots=True)
class ViewerAssets:
    """The folders the app serves: the pages' own files and each vendored package."""

    static_dir: Path
    vendor_dirs: dict[str, Path]

    def page(self, name: str) -> Path:
        """The HTML file of page ``name`` (``"worklist"`` -> ``static/worklist.html``)."""
        return self.static_dir / f"{name}.html"


def viewer_assets(node_modules: Path | None = None) -> ViewerAssets:
    """The web app's folders; ViewerAssetsMissingError naming the fix if npm's are absent."""
    modules = node_modules or _VIEWER_DIR / "node_modules"
    vendor = {name: modules / relative for name, relative in VENDOR_PACKAGES.items()}
    missing = [str(path) for path in vendor.values() if not path.is_dir()]
    if missing:
        raise ViewerAssetsMissingError(
            "the web app's npm packages are not installed (missing "
            + ", ".join(missing)
            + "); run `make setup` (or `npm ci` in viewer/)"
        )
    return ViewerAssets(static_dir=_VIEWER_DIR / "static", vendor_dirs=vendor)
