"""The API docs page (``/docs``), with Swagger UI served by the service itself.

FastAPI's own page loads Swagger UI from a CDN, and hospital networks have no internet; the
files come from the ``fastapi-offline`` package instead, mounted under ``/docs/assets``. The
page's one inline script (``SwaggerUIBundle({...})``) is allowed by its hash, in a policy of
its own; Swagger UI also inserts ``<style>`` elements and data-URL icons, so this page, which
shows no patient data, allows inline styles and ``data:`` images. ReDoc is not served.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.middleware import content_security_policy

__all__ = ["DOCS_ASSETS_URL", "DOCS_URL", "inline_script_hashes", "install_api_docs"]

DOCS_URL = "/docs"
DOCS_ASSETS_URL = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _assets_dir() -> Path:
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def inline_script_hashes(html: str) -> list[str]:
    """The CSP source expressions (``'sha256-...'``) of the inline scripts in ``html``."""
    digests = (
        hashlib.sha256(script.encode("utf-8")).digest() for script in _INLINE_SCRIPT.findall(html)
    )
    return [f"'sha256-{base64.b64encode(digest).decode('ascii')}'" for digest in digests]


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` from local files; build ``app`` with ``docs_url=None, redoc_url=None``."""
    assert app.openapi_url is not None
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=_assets_dir()), name="docs-assets")
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} - API",
        swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
        oauth2_redirect_url=None,
        # The validator badge is an image from swagger.io: off.
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode("utf-8")
    policy = content_security_policy(
        script_src=" ".join(["'self'", *inline_script_hashes(html)]),
        style_src="'self' 'unsafe-inline'",
        img_src="'self' data:",
    )

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """The Swagger UI page for this API."""
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})
