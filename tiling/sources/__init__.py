"""Whole-slide image backends behind one ``SlideSource`` ABC, and a registry to pick one.

>>> with open_slide("CMU-1-Small-Region.svs") as slide:  # doctest: +SKIP
...     pixels = slide.read_region((0, 0), 0, (512, 512))
"""

from __future__ import annotations

from tiling.sources._openslide import OpenSlideSource
from tiling.sources._pillow import PillowSource
from tiling.sources._tifffile import TiffFileSource
from tiling.sources.base import RawTileLayout, RGBArray, SlideDescription, SlideSource
from tiling.sources.registry import BackendName, backend_names, candidates, open_slide

__all__ = [
    "BackendName",
    "OpenSlideSource",
    "PillowSource",
    "RGBArray",
    "RawTileLayout",
    "SlideDescription",
    "SlideSource",
    "TiffFileSource",
    "backend_names",
    "candidates",
    "open_slide",
]
