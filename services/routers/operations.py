"""Operations routes: readiness (``/ready``) and the Prometheus metrics (``/metrics``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["meta"])
