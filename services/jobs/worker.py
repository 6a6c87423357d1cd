"""What runs inside a dask worker process: opening a slide to check it, building a pyramid.

Slide files are untrusted, and a reader that crashes takes its worker process down, not the
API; so the API process never opens one. The build writes its progress to a small file next
to the pyramid, which the runner (:mod:`services.jobs.runner`) copies into the job row.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tiling.limits import SlideLimits
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.sources import open_slide

__all__ = ["ProgressFile", "SlideProbe", "build_in_worker", "probe_slide", "read_progress"]

_PROBE_REGION_PX = 64
_JOB_OPTIONS = PyramidOptions()
"""The pyramid every tiling job builds (the probe holds a slide's tile count against it)."""
_PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class SlideProbe:
    """What opening a slide in a worker found: enough to accept a file for import."""

    backend: str
    width_px: int
    height_px: int
    level_count: int
    barcode: str | None


def probe_slide(path: str, limits: SlideLimits | None = None) -> SlideProbe:
    """Open ``path``, hold its size against ``limits`` (for the pyramid a job would build:
    :func:`build_in_worker`'s options) and decode one small region (run in a worker process,
    not the API).

    Raises the reader's ``TilingError`` (naming the file) when it cannot be read, and
    ``SlideTooLargeError`` (naming its size) when it is over the limits.
    """
    with open_slide(path) as source:
        if limits is not None:
            limits.check(path, source, _JOB_OPTIONS.spec)
        level = len(source.level_dimensions) - 1
        width, height = source.level_dimensions[level]
        size = (min(_PROBE_REGION_PX, width), min(_PROBE_REGION_PX, height))
        source.read_region((0, 0), level, size)
        barcode = next(
            (
                str(value).strip()
                for key, value in sorted(source.properties.items())
                if key.lower().endswith("barcode") and str(value).strip()
            ),
            None,
        )
        width_px, height_px = source.dimensions
        return SlideProbe(
            backend=type(source).__name__,
            width_px=width_px,
            height_px=height_px,
            level_count=len(source.level_dimensions),
            barcode=barcode,
        )


class ProgressFile:
    """Writes ``{"done": n, "total": m}`` atomically, at most every half second."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"done": done, "total": total}))
        os.replace(partial, self.path)


def read_progress(path: Path) -> tuple[int, int] | None:
    """``(done, total)`` from a :class:`ProgressFile`, or None while there is none."""
    try:
        data = json.loads(path.read_text())
        return int(data["done"]), int(data["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_in_worker(
    source_path: str,
    out_dir: str,
    name: str,
    progress_path: str,
    *,
    limits: SlideLimits | None = None,
) -> int:
    """Build (or resume) one pyramid; runs as a dask task in a worker process.

    Returns the pyramid's tile count; raises ``TilingError`` with the builder's message
    (``SlideTooLargeError`` for a slide over ``limits``, before any tile is written).
    """
    result = build_pyramid(
        source_path,
        out_dir,
        _JOB_OPTIONS,
        limits=limits,
        name=name,
        progress=ProgressFile(Path(progress_path)),
        # The folder is the slide's own, and the job is the lab's decision to (re)build it:
        # a pyramid left by an earlier build with other options is replaced, not in the way.
        overwrite=True,
    )
    return result.tiles_total
