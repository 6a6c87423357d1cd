"""A disk quota per department for pyramids: a department over it gets no new slides.

A department's use is the size of every file under ``DATA_DIR/pyramids/<slide id>/`` of its
slides (finished pyramids and builds under way alike; hard links counted once). Uploads and
the scanner import check it before a slide is accepted; a slide accepted while a department
is under its quota may take it over, by one pyramid at most per slide in flight.

Cost: the check walks the department's pyramid folders and stats every file, each time: about
a second per 100,000-500,000 files on a local disk (a department with 1,000 slides of 50,000
tiles each holds 50 million). Without a quota (the default) nothing is walked.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, select

from services.errors import ServiceError
from services.settings import Settings
from services.storage import pyramid_paths
from worklist.db import read_session
from worklist.models import Block, Case, Department, Slide, Specimen

__all__ = ["PyramidQuotaExceededError", "check_pyramid_quota", "department_pyramid_bytes"]

_BYTES_PER_GB = 1_000_000_000


class PyramidQuotaExceededError(ServiceError):
    """The department's pyramids already take its disk quota: no new slides until space is
    freed or the quota raised."""

    status_code = 507
    code = "quota_exceeded"


def department_pyramid_bytes(*, engine: Engine, settings: Settings, department_id: int) -> int:
    """The bytes the pyramids of department ``department_id``'s slides take on disk."""
    with read_session(engine) as session:
        slide_ids = list(
            session.scalars(
                select(Slide.id)
                .join(Block, Slide.block_id == Block.id)
                .join(Specimen, Block.specimen_id == Specimen.id)
                .join(Case, Specimen.case_id == Case.id)
                .where(Case.department_id == department_id)
            )
        )
    seen: set[tuple[int, int]] = set()
    return sum(
        _tree_bytes(pyramid_paths(settings, slide_id).directory, seen) for slide_id in slide_ids
    )


def check_pyramid_quota(*, engine: Engine, settings: Settings, department_id: int) -> None:
    """Raise :class:`PyramidQuotaExceededError` when department ``department_id``'s pyramids
    take ``settings.pyramid_quota_gb_per_department`` or more; no quota, no check."""
    quota_gb = settings.pyramid_quota_gb_per_department
    if quota_gb is None:
        return
    quota_bytes = int(quota_gb * _BYTES_PER_GB)
    used = department_pyramid_bytes(engine=engine, settings=settings, department_id=department_id)
    if used < quota_bytes:
        return
    with read_session(engine) as session:
        department = session.get(Department, department_id)
        code = department.code if department is not None else str(department_id)
    raise PyramidQuotaExceededError(
        f"department {code}'s pyramids take {used:,} bytes, at or over its quota of "
        f"{quota_gb:g} GB ({quota_bytes:,} bytes): no new slides until pyramids are removed "
        "or the quota (COUPE_PYRAMID_QUOTA_GB_PER_DEPARTMENT) is raised"
    )


def _tree_bytes(folder: Path, seen: set[tuple[int, int]]) -> int:
    """The size of the files under ``folder`` (0 if it does not exist); ``seen`` holds the
    (device, inode) of files already counted, so hard links count once."""
    total = 0
    pending = [str(folder)]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        stat = entry.stat(follow_symlinks=False)
                        if (stat.st_dev, stat.st_ino) not in seen:
                            seen.add((stat.st_dev, stat.st_ino))
                            total += stat.st_size
                except FileNotFoundError:
                    continue  # removed meanwhile (a build finishing)
    return total
