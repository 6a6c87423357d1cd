"""Assignment rounds: the engine's proposals as a preview, approved in part or whole, applied."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["assignment-rounds"])
