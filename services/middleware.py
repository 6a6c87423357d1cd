"""ASGI middleware around the whole app: security headers, bounded JSON-only request bodies.

Both wrap the app from outside, so they hold for every request and answer, error answers
included, whatever route (or none) is asked for.

- Headers: a route that knows better sets its own and keeps it: the API docs page its own
  Content-Security-Policy, tiles and images their own ``Cache-Control``.
- Bodies are refused before routing, parsing and authentication: a declared length over the
  limit at once (413), before a byte of the body is read; a body without a declared length
  (chunked) as soon as the bytes read pass the limit; a body that is not JSON (415). The
  streamed upload routes are left alone: they stream to disk with a limit of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.errors import BodyTooLargeError, UnsupportedMediaTypeError, error_response

__all__ = [
    "BASE_CSP_DIRECTIVES",
    "DEFAULT_CACHE_CONTROL",
    "HSTS",
    "RequestBodyMiddleware",
    "SecurityHeadersMiddleware",
    "content_security_policy",
    "is_json_media_type",
]

BASE_CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "object-src": "'none'",
}
"""The policy of every answer: the service's own resources only, never framed, no inline code."""

DEFAULT_CACHE_CONTROL = "no-store"
"""Answers carry patient data: nothing keeps them unless the route said otherwise (tiles do)."""

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(**extra: str) -> str:
    """The base policy with directives added or replaced (``script_src="'self'"``)."""
    directives = dict(BASE_CSP_DIRECTIVES)
    directives.update({name.replace("_", "-"): value for name, value in extra.items()})
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP answer; HSTS only when ``behind_tls``.

    ``Content-Security-Policy`` and ``Cache-Control`` are defaults: a route that set its own
    keeps it. The others are always set.
    """

    def __init__(self, app: ASGIApp, *, behind_tls: bool = False) -> None:
        self.app = app
        self._fixed: dict[str, str] = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            # For browsers that predate frame-ancestors.
            "X-Frame-Options": "DENY",
        }
        if behind_tls:
            # Only over TLS: on plain HTTP (the demo, loopback) it would pin a scheme we lack.
            self._fixed["Strict-Transport-Security"] = HSTS
        self._csp = content_security_policy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._fixed.items():
                    headers[name] = value
                headers.setdefault("Content-Security-Policy", self._csp)
                headers.setdefault("Cache-Control", DEFAULT_CACHE_CONTROL)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header names JSON (``application/json``, ``...+json``)."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class RequestBodyMiddleware:
    """Request bodies of at most ``max_json_bytes`` bytes, and JSON, except on ``streamed``.

    ``streamed`` names the routes that read their body themselves, as ``(method, path
    template)`` pairs like ``("POST", "/cases/{case_id}/slides")``. Every other body is read
    here in full (it is small, or refused) and handed on to the app as it came.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_bytes: int,
        streamed: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self._streamed: list[tuple[str, re.Pattern[str]]] = [
            (method.upper(), compile_path(path)[0]) for method, path in streamed
        ]

    def _is_streamed(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        return any(method == m and pattern.match(path) for m, pattern in self._streamed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_streamed(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        declared_bytes = int(declared) if declared is not None and declared.isdigit() else None
        if declared_bytes is not None and declared_bytes > self.max_json_bytes:
            await self._too_large(declared_bytes)(scope, receive, send)
            return
        json_body = is_json_media_type(headers.get("content-type"))
        if declared_bytes and not json_body:
            await self._not_json(headers)(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_json_bytes:
                await self._too_large(None)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if body and not json_body:
            await self._not_json(headers)(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self, declared_bytes: int | None) -> ASGIApp:
        size = "" if declared_bytes is None else f" ({declared_bytes} bytes)"
        return error_response(
            BodyTooLargeError(
                f"the request body{size} is larger than the {self.max_json_bytes} bytes "
                "this service accepts"
            )
        )

    @staticmethod
    def _not_json(headers: Headers) -> ASGIApp:
        content_type = headers.get("content-type") or "none"
        return error_response(
            UnsupportedMediaTypeError(
                f"send the body as application/json (Content-Type: {content_type[:60]!r})"
            )
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then waits on the client (for a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
