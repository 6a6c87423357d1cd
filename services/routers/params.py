"""Path and query parameters the worklist routes share, bounded so that nothing odd reaches
the database: ids fit a signed 64-bit key, codes and numbers match their patterns (which
also keeps ``..``, ``/`` and ``\\`` out of every name)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from services.schemas.common import (
    CURSOR_MAX_LENGTH,
    CURSOR_PATTERN,
    DEFAULT_PAGE_LIMIT,
    MAX_ID,
    MAX_PAGE_LIMIT,
)

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id.")]
SlideId = Annotated[int, Path(ge=1, le=MAX_ID, description="The slide's id.")]
AnnotationId = Annotated[int, Path(ge=1, le=MAX_ID, description="The annotation's id.")]
RoundId = Annotated[int, Path(ge=1, le=MAX_ID, description="The assignment round's id.")]
DepartmentCodePath = Annotated[
    str,
    Path(max_length=16, pattern=r"^[A-Z][A-Z0-9-]{1,15}$", description="e.g. HMC, LUMC"),
]
PathologistCodePath = Annotated[
    str,
    Path(max_length=32, pattern=r"^[A-Z][A-Z0-9-]{1,31}$", description="e.g. HMC-01"),
]
AccessionPath = Annotated[
    str,
    Path(
        max_length=32,
        pattern=r"^[A-Z][A-Z0-9]{1,7}-[TCO][0-9]{2}-[0-9]{1,7}$",
        description="e.g. HMC-T25-00042",
    ),
]
DepartmentFilter = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=r"^[A-Z][A-Z0-9-]{1,15}$",
        description="Only this department's (its code, e.g. HMC).",
    ),
]
Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE_LIMIT,
        description=f"Items per page: 1 to {MAX_PAGE_LIMIT}, default {DEFAULT_PAGE_LIMIT}.",
    ),
]
"""Every list's page size; give it the default ``DEFAULT_PAGE_LIMIT``."""
Cursor = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_LENGTH,
        pattern=CURSOR_PATTERN,
        description="The `next` of the page before (opaque); leave it out for the first page. "
        "A cursor of another list, or one this service did not give out, is refused (422).",
    ),
]
"""Where a page starts: the ``next`` of the page before."""
