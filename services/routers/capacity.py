"""Capacity reports through the API: ``GET /reports/capacity`` for the Reports page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/reports", tags=["capacity"])
