"""The pages as served: their scripts and styles named by content, kept by browsers for good.

A page file (``viewer/static/*.html``) names its files plainly (``/static/js/case.js``). As
served, the page gets:

- an import map from every module of ``/static/js`` (and every file the modules ask for later
  by a literal ``import("/static/...")`` or ``import.meta.resolve("/static/...")``) to its
  versioned URL, ``/static/js/case.js?v=<digest>``:
  every import of a module, the page's own and a test's ``import("/static/js/case.js")``
  alike, resolves to that one URL, so to one instance of the module;
- its stylesheets and classic scripts versioned the same way;
- a ``modulepreload`` for each module its module scripts import, directly or not: the browser
  asks for the whole graph at once instead of one import level per round trip;
- ``prefetch`` links for the files of the page it leads to (the worklist: the case page's),
  fetched while the browser is idle, so opening a case asks the wide-area link for none.

A URL that carries its file's current digest may be kept for a year without asking again
(``StaticVersions.cache_control``); a new release changes the digests in the pages, which are
revalidated on every load, so it reaches the browser at once. Anything else (no digest, an old
one) is revalidated on every use, as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from viewer.assets import ViewerAssets

__all__ = [
    "IMMUTABLE_CACHE_CONTROL",
    "REVALIDATED_CACHE_CONTROL",
    "VERSION_PARAMETER",
    "RenderedPage",
    "StaticVersions",
    "late_files",
    "module_graph",
    "render_page",
]

STATIC_URL = "/static"
VERSION_PARAMETER = "v"
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
REVALIDATED_CACHE_CONTROL = "no-cache"
_DIGEST_HEX_CHARS = 16

_IMPORT_MAP = re.compile(r'\s*<script type="importmap">(.*?)</script>', re.DOTALL)
_MODULE_PRELOAD = re.compile(r'\s*<link rel="modulepreload" href="[^"]*">')
_MODULE_SCRIPT = re.compile(r'<script type="module" src="(/static/[^"?#]+)"></script>')
_STATIC_ATTRIBUTE = re.compile(r'(\s(?:href|src)=")(/static/[^"?#]+)(")')
_FIRST_HEAD_ASSET = re.compile(r"\s*<(?:link|script)\b")
# `import x from "/static/js/y.js"`, `export {x} from "..."`, `import "..."` (static imports).
_STATIC_IMPORT = re.compile(r'(?:\bfrom\s*|\bimport\s+)"(/static/[^"]+\.js)"')
# Files a module asks for later, by a literal URL the import map names too:
# `import("/static/vendor/vega/vega.min.js")`, and `import.meta.resolve("/static/...")` for a
# classic script it adds itself (Annotorious' bundle).
_LATE_FILE = re.compile(r'\b(?:import|import\.meta\.resolve)\(\s*"(/static/[^"]+\.js)"\s*\)')


class StaticVersions:
    """The digests of the files served under ``/static`` (the app's own and npm's)."""

    def __init__(self, assets: ViewerAssets) -> None:
        self._assets = assets
        self._digests: dict[str, str | None] = {}

    def file_for(self, url: str) -> Path | None:
        """The file a ``/static/...`` URL path serves, or None (none, or outside the folders)."""
        if not url.startswith(STATIC_URL + "/"):
            return None
        relative = url.removeprefix(STATIC_URL + "/")
        folder = self._assets.static_dir
        if relative.startswith("vendor/"):
            name, _, relative = relative.removeprefix("vendor/").partition("/")
            if name not in self._assets.vendor_dirs:
                return None
            folder = self._assets.vendor_dirs[name]
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            return None
        return path

    def digest(self, url: str) -> str | None:
        """The file's content digest (read once per process), None when there is no file."""
        if url not in self._digests:
            path = self.file_for(url)
            self._digests[url] = (
                hashlib.sha256(path.read_bytes()).hexdigest()[:_DIGEST_HEX_CHARS]
                if path is not None
                else None
            )
        return self._digests[url]

    def versioned(self, url: str) -> str:
        """``url`` with its digest, or as it is when no file answers it."""
        digest = self.digest(url)
        return url if digest is None else f"{url}?{VERSION_PARAMETER}={digest}"

    def cache_control(self, url: str, version: str | None) -> str:
        """Kept for good when ``version`` is the file's current digest, else revalidated."""
        if version is not None and version == self.digest(url):
            return IMMUTABLE_CACHE_CONTROL
        return REVALIDATED_CACHE_CONTROL

    def modules(self) -> list[str]:
        """The URL paths of the app's own modules (``/static/js/*.js``)."""
        folder = self._assets.static_dir / "js"
        return [f"{STATIC_URL}/js/{path.name}" for path in sorted(folder.glob("*.js"))]


def module_graph(versions: StaticVersions, entries: list[str]) -> list[str]:
    """Every module the ``entries`` import statically, directly or not (entries excluded), in
    the order first met."""
    seen = set(entries)
    found: list[str] = []
    queue = list(entries)
    while queue:
        path = versions.file_for(queue.pop(0))
        if path is None:
            continue
        for imported in _STATIC_IMPORT.findall(path.read_text(encoding="utf-8")):
            if imported not in seen:
                seen.add(imported)
                found.append(imported)
                queue.append(imported)
    return found


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """A page as served, and the CSP hash source of its import map (inline, admitted by hash)."""

    html: str
    import_map_hash: str
    files: tuple[str, ...]
    """The versioned URLs of what the page loads: up front, and later by a literal URL (what
    another page prefetches)."""


def late_files(versions: StaticVersions, modules: list[str]) -> list[str]:
    """What ``modules`` ask for later by a literal URL (``_LATE_FILE``), in the order met."""
    found: list[str] = []
    for module in modules:
        path = versions.file_for(module)
        if path is None:
            continue
        for target in _LATE_FILE.findall(path.read_text(encoding="utf-8")):
            if target not in found:
                found.append(target)
    return found


def _import_map(versions: StaticVersions, existing: dict[str, str]) -> dict[str, str]:
    imports = {name: versions.versioned(url) for name, url in existing.items()}
    for module in versions.modules():
        imports[module] = versions.versioned(module)
    for target in late_files(versions, versions.modules()):
        imports.setdefault(target, versions.versioned(target))
    return imports


def render_page(
    page_html: str, versions: StaticVersions, prefetch: tuple[str, ...] = ()
) -> RenderedPage:
    """``page_html`` as served (see the module's docstring); ``prefetch``: versioned URLs of
    another page's files to fetch while idle (those this page loads itself are left out)."""
    existing: dict[str, str] = {}
    for body in _IMPORT_MAP.findall(page_html):
        existing.update(json.loads(body)["imports"])
    html = _MODULE_PRELOAD.sub("", _IMPORT_MAP.sub("", page_html))
    entries = _MODULE_SCRIPT.findall(html)
    preloaded = module_graph(versions, entries)
    loaded = [url for _, url, _ in _STATIC_ATTRIBUTE.findall(html)]
    html = _STATIC_ATTRIBUTE.sub(
        lambda match: match[1] + versions.versioned(match[2]) + match[3], html
    )

    import_map = json.dumps({"imports": _import_map(versions, existing)}, sort_keys=True)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    head_start = _FIRST_HEAD_ASSET.search(html)
    if head_start is None:
        raise ValueError("a page must load its scripts and styles in its <head>")
    indent = "\n    "
    preloads = "".join(
        f'{indent}<link rel="modulepreload" href="{versions.versioned(url)}">' for url in preloaded
    )
    later = late_files(versions, [*entries, *preloaded])
    files = tuple(dict.fromkeys(versions.versioned(url) for url in [*loaded, *preloaded, *later]))
    prefetches = "".join(
        f'{indent}<link rel="prefetch" href="{url}">' for url in prefetch if url not in files
    )
    at = head_start.start()
    html = f'{html[:at]}{indent}<script type="importmap">{import_map}</script>{preloads}{html[at:]}'
    if prefetches:
        html = html.replace("\n  </head>", f"{prefetches}\n  </head>", 1)
    return RenderedPage(html=html, import_map_hash=f"'sha256-{digest}'", files=files)
