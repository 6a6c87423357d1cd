"""The errors of the tiling package: one base class, so callers can catch any slide error."""

from __future__ import annotations

__all__ = [
    "ImplausibleSlideError",
    "PyramidBuildError",
    "PyramidBusyError",
    "PyramidExistsError",
    "SlideNotFoundError",
    "SlideReadError",
    "SlideTooLargeError",
    "TilingError",
    "TruncatedSlideError",
    "UnsupportedSlideError",
]


class TilingError(Exception):
    """Base class of every error raised by ``tiling``."""


class SlideNotFoundError(TilingError, FileNotFoundError):
    """The slide file does not exist."""


class UnsupportedSlideError(TilingError):
    """No backend can read the file: it is no slide format we know, or it is broken."""


class TruncatedSlideError(UnsupportedSlideError):
    """The file ends before what its own directory points to: an incomplete copy, most often."""


class ImplausibleSlideError(UnsupportedSlideError):
    """The file claims an image far larger than the data it holds (tiles that all reuse the
    same bytes, a header that lies about the size): damaged, or made to exhaust a reader."""


class SlideTooLargeError(TilingError):
    """The slide opens, but it has more pixels or would make more tiles than the limits allow
    (``tiling.limits.SlideLimits``)."""


class SlideReadError(TilingError):
    """The slide opened but a region or level could not be read."""


class PyramidBuildError(TilingError):
    """A Deep Zoom pyramid could not be built or resumed."""


class PyramidBusyError(PyramidBuildError):
    """Another process is building this pyramid now (its lock is held): try again later."""


class PyramidExistsError(PyramidBuildError, FileExistsError):
    """A finished pyramid is in the way, built from another slide file or with other options;
    ``build_pyramid(..., overwrite=True)`` replaces it."""
