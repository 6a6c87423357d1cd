"""The import queue: scanner files that could not be imported, and why; link or discard them."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["imports"])
