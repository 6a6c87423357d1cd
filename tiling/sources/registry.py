"""Which backend reads a file: each backend scores the file by sniffing it; the best opens it.

Scores (see each backend's ``can_read``): tifffile 90 for Aperio SVS, OME-TIFF and plain TIFF
(its raw-tile path is the fastest); OpenSlide 80 for everything it detects, so it wins NDPI,
MRXS, SCN, BIF, Philips, Ventana and DICOM; Pillow 70 for JPEG and PNG. When the best backend
fails to open a file the next one is tried; one error names the file and every reason.
A TIFF that ends before what its directory points to, or that claims an image far larger than
the data it holds, is refused before any backend tries it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

from tiling.errors import (
    ImplausibleSlideError,
    SlideNotFoundError,
    TilingError,
    TruncatedSlideError,
    UnsupportedSlideError,
)
from tiling.sources import _openslide, _pillow, _tifffile
from tiling.sources._tiff_extent import inspect_tiff
from tiling.sources.base import Backend, BackendOpenError, SlideSource

__all__ = ["BACKENDS", "BackendName", "backend_names", "candidates", "open_slide"]

BACKENDS: tuple[Backend, ...] = (_tifffile.BACKEND, _openslide.BACKEND, _pillow.BACKEND)
BackendName = Literal["tifffile", "openslide", "pillow"]
"""The names in ``BACKENDS``, as a type: a command line lists them as its choices."""
_BY_NAME = {backend.name: backend for backend in BACKENDS}


def backend_names() -> tuple[str, ...]:
    """The names of the registered backends."""
    return tuple(_BY_NAME)


def candidates(path: str | Path) -> list[tuple[str, int]]:
    """The backends that can read ``path`` as (name, score), best first."""
    file = Path(path)
    scores = [(backend.name, backend.can_read(file)) for backend in BACKENDS]
    # sorted() is stable: equal scores keep registration order.
    return sorted(
        ((name, score) for name, score in scores if score > 0),
        key=lambda item: item[1],
        reverse=True,
    )


def open_slide(
    path: str | Path, *, backend: str | None = None, decode_threads: int | None = None
) -> SlideSource:
    """Open a slide with ``backend``, or with the best backend that manages to.

    Raises SlideNotFoundError for a missing file and UnsupportedSlideError, naming the file and
    each backend's reason, when no backend opens it.
    """
    file = Path(path)
    if not file.exists():
        raise SlideNotFoundError(f"slide {str(path)!r} does not exist")
    if not file.is_file():
        raise UnsupportedSlideError(f"cannot open slide {str(path)!r}: not a file")
    _refuse_broken_tiff(file)
    if backend is not None:
        if backend not in _BY_NAME:
            raise ValueError(f"unknown backend {backend!r}; known: {', '.join(_BY_NAME)}")
        names = [backend]
    else:
        names = [name for name, _ in candidates(file)]
        if not names:
            raise UnsupportedSlideError(
                f"cannot open slide {str(path)!r}: not a slide format Coupe reads "
                "(no backend recognises its content)"
            )
    reasons = []
    for name in names:
        try:
            return _BY_NAME[name].open(file, decode_threads)
        except BackendOpenError as exc:
            reasons.append(f"{name}: {exc.reason}")
        except TilingError as exc:
            reasons.append(f"{name}: {exc}")
    raise UnsupportedSlideError(
        f"cannot open slide {str(path)!r}: not a slide format Coupe reads, or broken "
        f"({'; '.join(reasons)})"
    )


def _refuse_broken_tiff(file: Path) -> None:
    """Refuse a TIFF that ends before what its directory points to, before a backend reads
    the part that is there and passes it off as the whole slide; and one that claims far more
    pixels than its data holds, before a reader decodes the same bytes billions of times."""
    try:
        inspection = inspect_tiff(file)
    except (OSError, struct.error, ValueError):
        return  # unreadable in some other way: the backends say how
    if inspection is None:
        return
    overrun = inspection.overrun
    if overrun is not None:
        raise TruncatedSlideError(
            f"slide {str(file)!r} is cut short: the file ends at byte {overrun.file_size} "
            f"but its directory points to {overrun.offset}: incomplete copy?"
        )
    image = inspection.implausible
    if image is not None:
        shared = (
            f" ({image.shared_offset_count:,} of them at the same offset)"
            if image.shared_offset_count > 1
            else ""
        )
        raise ImplausibleSlideError(
            f"slide {str(file)!r} claims an image of {image.width_px:,} x {image.height_px:,} px "
            f"but its {image.block_count:,} {image.block_kind}{shared} hold only "
            f"{image.distinct_bytes:,} bytes of data, far less than any real compression of "
            "that many pixels: a damaged or crafted file"
        )
