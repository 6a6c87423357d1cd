"""A case's history: every assignment, move, consult, report version and sign-out, in order."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["cases"])
