"""``GET /benchmarks``: the latest benchmark results beside their baselines, and live figures."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["meta"])
