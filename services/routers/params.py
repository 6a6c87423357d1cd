"""Path and query parameters the worklist routes share, bounded so that nothing odd reaches
the database: ids fit a signed 64-bit key, codes and numbers match their patterns (which
also keeps ``..``, ``/`` and ``\\`` out of every name)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from services.schemas.common import MAX_ID

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id.")]
SlideId = Annotated[int, Path(ge=1, le=MAX_ID, description="The slide's id.")]
AnnotationId = Annotated[int, Path(ge=1, le=MAX_ID, description="The annotation's id.")]
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
    Query(max_length=16, pattern=r"^[A-Z][A-Z0-9-]{1,15}$", description="A department code."),
]
Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items (1-200).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many items.")]
