"""Operations routes: readiness (``/ready``) and the Prometheus metrics (``/metrics``).

Neither needs a sign-in: a load balancer and Prometheus have none. ``/ready`` tells nothing
secret (check names and what they found); ``/metrics`` is kept from the public by a bearer
token (``COUPE_METRICS_TOKEN``) or, without one, by answering only this machine's loopback.
Both are plain ``def``: they query the database, so they run in worker threads.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.deps import StateDep
from services.errors import AccessDeniedError
from services.metrics_readiness import check_readiness
from services.schemas.auth import ErrorBody
from services.settings import Settings

router = APIRouter(tags=["meta"])


class CheckPublic(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str


class ReadinessPublic(BaseModel):
    """Every readiness check by name (database, migrations, job_runner)."""

    status: Literal["ready", "not ready"]
    checks: dict[str, CheckPublic]


@router.get(
    "/ready",
    response_model=ReadinessPublic,
    responses={503: {"model": ReadinessPublic, "description": "A check failed: see which."}},
)
def ready(state: StateDep, response: Response) -> ReadinessPublic:
    """Readiness: 200 when this process can serve, else 503 naming the failed check and why.

    Checks: ``database`` (it answers a query), ``migrations`` (its schema is this code's
    newest revision), ``job_runner`` (the tiling job runner's thread is alive in the process
    holding ``background.lock``; another process is ready while some process holds the lock,
    or when its background workers are off). Liveness, without the database, is ``/health``.
    """
    readiness = check_readiness(state)
    if not readiness.ready:
        response.status_code = 503
    return ReadinessPublic(
        status="ready" if readiness.ready else "not ready",
        checks={
            name: CheckPublic(ok=check.ok, detail=check.detail)
            for name, check in readiness.checks.items()
        },
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The Prometheus text exposition format.",
        },
        403: {"model": ErrorBody, "description": "No token, a wrong one, or not loopback."},
    },
)
def metrics(request: Request, state: StateDep) -> Response:
    """Prometheus metrics (text exposition format), every server process of this service summed.

    With ``COUPE_METRICS_TOKEN`` set, the request must carry ``Authorization: Bearer <token>``
    (the ``authorization`` / ``bearer_token`` of a Prometheus scrape config); without it, only
    clients on this machine's loopback (127.0.0.1, ::1) are answered. Anything else: 403. A
    reverse proxy on the same machine must forward the client's address (``X-Forwarded-For``,
    which Caddy sends) or every request looks local: set a token behind a proxy.

    Tile latency (``coupe_tile_latency_seconds``, histogram by ``source``: prebuilt, rendered,
    cache) and tiles served are counted by each process; jobs, assignments, recent sign-in
    failures and the audit chain's lag are read from the database on each scrape, so every
    replica shows the same figures; ``coupe_database_up`` is 0 when those queries failed.
    """
    _admit(request, state.settings)
    return Response(state.metrics.exposition(), media_type=state.metrics.content_type)


def _admit(request: Request, settings: Settings) -> None:
    """Raise AccessDeniedError (403) unless the request may read the metrics."""
    if settings.metrics_token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AccessDeniedError(
                "the metrics need the bearer token set in COUPE_METRICS_TOKEN "
                "(Authorization: Bearer <token>)"
            )
        expected = settings.metrics_token.get_secret_value().encode()
        # Constant time: how much of a guess matched does not show in the answer's timing.
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise AccessDeniedError("wrong metrics token")
        return
    host = request.client.host if request.client is not None else ""
    if not _is_loopback(host):
        raise AccessDeniedError(
            "the metrics answer only this machine (loopback) unless COUPE_METRICS_TOKEN is "
            "set; then send it as Authorization: Bearer <token>"
        )


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name (the test client's "testclient"), never trusted as local
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))
