"""Rosters and absences per pathologist: working days, part-time patterns, leave and sickness."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["pathologists"])
