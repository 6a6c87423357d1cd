"""The web app's pages and files, served at ``/`` beside the API.

Pages: ``/`` (my worklist), ``/sign-in`` and ``/case/{case_id}`` (singular: ``/cases/...`` is the
API). Each page is a static HTML file; its scripts ask the API for the data, so a page itself
holds no patient data and the API's access checks and audit apply to everything shown.
Scripts and styles come from ``/static`` (the app's own) and ``/static/vendor/<package>``
(npm's, pinned by the lockfile), so the strict Content-Security-Policy of every answer (no
inline script but each page's import map, admitted by its hash; nothing from another origin)
holds for the pages too. Pages are revalidated on each load (``no-cache``); they name their
files by content digest (viewer/pages.py), and a file asked for with its current digest is kept
by the browser for good, so a page opens without asking for its scripts again and a new
release is still picked up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from services.middleware import content_security_policy
from viewer.assets import ViewerAssets
from viewer.pages import (
    REVALIDATED_CACHE_CONTROL,
    VERSION_PARAMETER,
    RenderedPage,
    StaticVersions,
    render_page,
)

__all__ = ["DESK_PAGES", "PAGE_CACHE_CONTROL", "STATIC_URL", "install_web_app", "page_policy"]

STATIC_URL = "/static"
PAGE_CACHE_CONTROL = REVALIDATED_CACHE_CONTROL
"""Pages: kept by the browser, revalidated on every use (cheap: 304)."""

EVAL_PAGES = frozenset({"case"})
"""Pages whose policy adds ``'unsafe-eval'``: the case view, for the annotation layer.

Annotorious draws annotations with pixi.js 7 (bundled inside its build), which compiles its
WebGL uniform setters with ``new Function`` and refuses to start without it (upstream:
annotorious/annotorious#514; pixi's ``@pixi/unsafe-eval`` cannot reach a bundled copy). Inline
script stays forbidden, and no page passes text from the API to ``eval`` or ``Function``; every
other page keeps the base policy.
"""

PREFETCHED_PAGES: dict[str, str] = {"worklist": "case"}
"""Page -> the page it leads to, whose files it fetches while idle (the worklist opens cases)."""


def page_policy(name: str, page: RenderedPage) -> str:
    """Page ``name``'s Content-Security-Policy: the base one, its import map admitted by hash,
    and ``'unsafe-eval'`` for the pages of ``EVAL_PAGES``.

    An import map is always inline (it cannot be a file of its own); Vega draws with
    ``vega-interpreter`` (``ast: true``), so no chart needs ``'unsafe-eval'``.
    """
    extra = " 'unsafe-eval'" if name in EVAL_PAGES else ""
    return content_security_policy(script_src=f"'self'{extra} {page.import_map_hash}")


DESK_PAGES: dict[str, tuple[str, str]] = {
    "/desk/queue": ("desk-queue", "The regional queue: open cases and who has them."),
    "/desk/backlog": ("desk-backlog", "Backlog per department and tumour group, by age."),
    "/desk/load": ("desk-load", "Load today per pathologist and department."),
    "/desk/round": ("desk-round", "The assignment round: preview, approve, apply."),
    "/desk/rosters": ("desk-rosters", "Rosters and absences of the pathologists."),
    "/desk/imports": ("desk-imports", "The import queue: scanner files that need a decision."),
    "/desk/reports": ("desk-reports", "Capacity reports: realisation, norm and forecast."),
    "/desk/benchmarks": ("desk-benchmarks", "Benchmark results beside baselines; live figures."),
    "/admin/accounts": ("admin-accounts", "Accounts: create, disable, reset, end sessions."),
}
"""The lab manager's and the administrator's pages, and the Benchmarks page (every account's):
URL -> (page file, what it is for).

The pages themselves check nothing: their scripts ask the API, which refuses what the signed-in
role may not see, and the page says so.
"""


def _page_route(page: Callable[[str], Response], name: str) -> Callable[[], Response]:
    def serve_page() -> Response:
        return page(name)

    return serve_page


class _VersionedFiles(StaticFiles):
    """Static files: kept for good when asked for with their current digest, else revalidated
    on every use."""

    def __init__(self, *, directory: Path, url_prefix: str, versions: StaticVersions) -> None:
        super().__init__(directory=directory)
        self._url_prefix = url_prefix
        self._versions = versions

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        version = query.get(VERSION_PARAMETER, [None])[0]
        url = f"{self._url_prefix}/{path}"
        response.headers["Cache-Control"] = self._versions.cache_control(url, version)
        return response


def _rendered_pages(assets: ViewerAssets, versions: StaticVersions) -> dict[str, RenderedPage]:
    """Every page as served; a page of PREFETCHED_PAGES prefetches the files of the other."""
    files = sorted(assets.static_dir.glob("*.html"))
    plain = {path.stem: path.read_text(encoding="utf-8") for path in files}
    rendered = {name: render_page(html, versions) for name, html in plain.items()}
    for name, leads_to in PREFETCHED_PAGES.items():
        rendered[name] = render_page(plain[name], versions, prefetch=rendered[leads_to].files)
    return rendered


def install_web_app(app: FastAPI, assets: ViewerAssets) -> None:
    """Serve the pages and their files from ``assets`` on ``app``."""
    versions = StaticVersions(assets)
    # The vendored packages first: a mount matches by prefix, the longest must win.
    for name, folder in assets.vendor_dirs.items():
        prefix = f"{STATIC_URL}/vendor/{name}"
        app.mount(
            prefix,
            _VersionedFiles(directory=folder, url_prefix=prefix, versions=versions),
            name=f"vendor-{name}",
        )
    app.mount(
        STATIC_URL,
        _VersionedFiles(directory=assets.static_dir, url_prefix=STATIC_URL, versions=versions),
        name="static",
    )
    pages = _rendered_pages(assets, versions)

    def page(name: str) -> Response:
        rendered = pages[name]
        headers = {
            "Cache-Control": PAGE_CACHE_CONTROL,
            "Content-Security-Policy": page_policy(name, rendered),
        }
        return Response(rendered.html, media_type="text/html", headers=headers)

    @app.get("/", include_in_schema=False)
    def worklist_page() -> Response:
        """The pathologist's landing page: my worklist."""
        return page("worklist")

    @app.get("/sign-in", include_in_schema=False)
    def sign_in_page() -> Response:
        """The sign-in page (the others send you here when the session has ended)."""
        return page("sign-in")

    @app.get("/case/{case_id}", include_in_schema=False)
    def case_page(case_id: int) -> Response:
        """The case view: slides, viewer, annotations, comments, consults, the report."""
        return page("case")

    for path, (name, summary) in DESK_PAGES.items():
        app.add_api_route(
            path,
            _page_route(page, name),
            methods=["GET"],
            include_in_schema=False,
            summary=summary,
        )

    @app.get("/desk", include_in_schema=False)
    def desk() -> RedirectResponse:
        """The lab manager's desk opens on the regional queue."""
        return RedirectResponse("/desk/queue", status_code=307)

    @app.get("/index.html", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/", status_code=308)
