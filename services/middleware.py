"""ASGI middleware around the whole app: security headers on every answer.

It wraps the app from outside, so it holds for every answer, error answers included, whatever
route (or none) produced it. A route that knows better sets its own header and keeps it: the
API docs page its own Content-Security-Policy, tiles and images their own ``Cache-Control``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BASE_CSP_DIRECTIVES",
    "DEFAULT_CACHE_CONTROL",
    "HSTS",
    "SecurityHeadersMiddleware",
    "content_security_policy",
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
