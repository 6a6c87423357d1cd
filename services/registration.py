"""Registering a scanned slide file with its case, shared by the upload route, the folder
import and the demo: the file is kept under ``settings.slide_dir`` (by the caller) and
registered with :func:`worklist.operations.register_scan`, which attaches it to its slide and
queues the tiling job in one transaction; here the service adds where pyramids are built.

Nothing here parses slide content: the checks in the API process are the file name and the
first bytes (the "magic number"); opening the slide happens in a worker process
(:mod:`services.jobs`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.jobs import pyramid_locator
from services.settings import Settings
from worklist.actor import Actor
from worklist.labels import SlideLabels
from worklist.models import Slide
from worklist.operations import ScanRegistration, register_scan

__all__ = [
    "SLIDE_SUFFIXES",
    "SNIFF_BYTES",
    "register_slide_file",
    "sniff_slide_kind",
]

SLIDE_SUFFIXES = frozenset(
    {".svs", ".tif", ".tiff", ".ndpi", ".scn", ".bif", ".dcm", ".jpg", ".jpeg", ".png"}
)
"""Single-file slide formats accepted from uploads and scanner folders."""

SNIFF_BYTES = 132


def sniff_slide_kind(head: bytes) -> str | None:
    """The container format from a file's first :data:`SNIFF_BYTES` bytes, or None.

    Only magic numbers are compared, so this is safe to run on untrusted files anywhere.
    """
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "bigtiff"
    if head[128:132] == b"DICM":
        return "dicom"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


def register_slide_file(
    *,
    engine: Engine,
    settings: Settings,
    actor: Actor,
    case_id: int,
    labels: SlideLabels,
    file_path: Path,
    origin: str,
    also: Callable[[Session, Slide], None] | None = None,
    now: datetime | None = None,
) -> ScanRegistration:
    """Attach the stored ``file_path`` to a slide of case ``case_id`` and queue its tiling job
    (into this service's pyramid folder); see :func:`worklist.operations.register_scan`."""
    return register_scan(
        engine=engine,
        actor=actor,
        case_id=case_id,
        labels=labels,
        file_path=file_path,
        origin=origin,
        locate_pyramid=pyramid_locator(settings),
        also=also,
        now=now,
    )
