"""The lab manager's figures: the backlog and today's load per pathologist and department."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["desk"])
