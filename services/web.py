"""The web app's pages and files, served at ``/`` beside the API.

Pages: ``/`` (my worklist), ``/sign-in`` and ``/case/{case_id}`` (singular: ``/cases/...`` is the
API). Each page is a static HTML file; its scripts ask the API for the data, so a page itself
holds no patient data and the API's access checks and audit apply to everything shown.
Scripts and styles come from ``/static`` (the app's own) and ``/static/vendor/<package>``
(npm's, pinned by the lockfile), so the strict Content-Security-Policy of every answer (no
inline script, nothing from another origin) holds for the pages too. Static files are
revalidated on each load (``no-cache`` with an ETag): a new release is picked up at once.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from services.middleware import content_security_policy
from viewer.assets import ViewerAssets, import_map_hashes

__all__ = ["CASE_PAGE_CSP", "DESK_PAGES", "PAGE_CACHE_CONTROL", "STATIC_URL", "install_web_app"]

STATIC_URL = "/static"
PAGE_CACHE_CONTROL = "no-cache"
"""Pages and scripts: kept by the browser, revalidated on every use (cheap: 304)."""

CASE_PAGE_CSP = content_security_policy(script_src="'self' 'unsafe-eval'")
"""The case view's policy: the base one, plus ``'unsafe-eval'`` for the annotation layer.

Annotorious draws annotations with pixi.js 7 (bundled inside its build), which compiles its
WebGL uniform setters with ``new Function`` and refuses to start without it (upstream:
annotorious/annotorious#514; pixi's ``@pixi/unsafe-eval`` cannot reach a bundled copy). Inline
script stays forbidden, and no page passes text from the API to ``eval`` or ``Function``; every
other page keeps the base policy.
"""


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


def _page_route(
    page: Callable[[str, str | None], FileResponse], name: str, policy: str | None = None
) -> Callable[[], FileResponse]:
    def serve_page() -> FileResponse:
        return page(name, policy)

    return serve_page


CHART_PAGES = frozenset({"desk-backlog", "desk-load", "desk-reports", "desk-benchmarks"})
"""Desk pages that draw Vega-Lite charts (``js/charts.js``)."""


def chart_page_csp(assets: ViewerAssets, name: str) -> str | None:
    """A chart page's policy: the base one, plus its own import map admitted by hash.

    Vega draws with ``vega-interpreter`` (``ast: true``), so no chart needs ``'unsafe-eval'``;
    the interpreter imports the bare name ``vega-util``, which only an import map resolves, and
    an import map is always inline. Other pages: None (the base policy).
    """
    if name not in CHART_PAGES:
        return None
    hashes = " ".join(import_map_hashes(assets.page(name)))
    return content_security_policy(script_src=f"'self' {hashes}".strip())


class _RevalidatedFiles(StaticFiles):
    """Static files that browsers keep but check again on every use."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
        return response


def install_web_app(app: FastAPI, assets: ViewerAssets) -> None:
    """Serve the pages and their files from ``assets`` on ``app``."""
    # The vendored packages first: a mount matches by prefix, the longest must win.
    for name, folder in assets.vendor_dirs.items():
        app.mount(
            f"{STATIC_URL}/vendor/{name}",
            _RevalidatedFiles(directory=folder),
            name=f"vendor-{name}",
        )
    app.mount(STATIC_URL, _RevalidatedFiles(directory=assets.static_dir), name="static")

    def page(name: str, policy: str | None = None) -> FileResponse:
        headers = {"Cache-Control": PAGE_CACHE_CONTROL}
        if policy is not None:
            headers["Content-Security-Policy"] = policy
        return FileResponse(assets.page(name), media_type="text/html", headers=headers)

    @app.get("/", include_in_schema=False)
    def worklist_page() -> FileResponse:
        """The pathologist's landing page: my worklist."""
        return page("worklist")

    @app.get("/sign-in", include_in_schema=False)
    def sign_in_page() -> FileResponse:
        """The sign-in page (the others send you here when the session has ended)."""
        return page("sign-in")

    @app.get("/case/{case_id}", include_in_schema=False)
    def case_page(case_id: int) -> FileResponse:
        """The case view: slides, viewer, annotations, comments, consults, the report."""
        return page("case", CASE_PAGE_CSP)

    for path, (name, summary) in DESK_PAGES.items():
        app.add_api_route(
            path,
            _page_route(page, name, chart_page_csp(assets, name)),
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
