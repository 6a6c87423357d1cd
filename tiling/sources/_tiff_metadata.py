"""What a TIFF slide's tags say about it: format flavour, resolution, objective, associated images.

Read the way OpenSlide reads them, so both backends describe a slide alike: Aperio's
``ImageDescription`` fields (``|AppMag = 20|MPP = 0.4990|``), OME-XML's ``PhysicalSizeX`` and
``NominalMagnification``, or, for a generic TIFF, the resolution tags with a real unit.

Unlike OpenSlide, a resolution no microscope makes is not reported as one (mpp None): image
software stamps its stock resolution (72, 96, 300 dpi, ...) on whatever it saves, so those
tags say nothing about the specimen, and nothing coarser than 100 µm per pixel is a
microscope's. The other backends apply the same rule through ``resolution_mpp`` and
``microscope_mpp``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import tifffile

__all__ = [
    "MAX_MICROSCOPE_MPP_UM",
    "TiffMetadata",
    "microscope_mpp",
    "read_tiff_metadata",
    "resolution_mpp",
]

MAX_MICROSCOPE_MPP_UM = 100.0
"""No coarser resolution is a microscope's: a 1x objective gives about 10 µm per pixel."""
# What image software writes when it knows no resolution: screens (72, 96, 144 dpi) and
# printers (150 to 2400 dpi). A scanner at 0.25 µm/px writes 101,600 dpi.
# Stored per centimetre or per metre (PNG) they come back a hair off: 299.9994 dpi.
_STOCK_DPI = frozenset({72, 96, 144, 150, 200, 240, 300, 600, 1200, 2400})
_STOCK_DPI_TOLERANCE = 0.01
_UM_PER_RESOLUTION_UNIT = {"inch": 25400.0, "centimeter": 10000.0}

_UNIT_TO_UM = {"pm": 1e-6, "nm": 1e-3, "µm": 1.0, "um": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}
_TAG_PROPERTIES = (
    ("ImageDescription", "tiff.ImageDescription"),
    ("Software", "tiff.Software"),
    ("Make", "tiff.Make"),
    ("Model", "tiff.Model"),
    ("DateTime", "tiff.DateTime"),
)
_ASSOCIATED_NAMES = ("thumbnail", "label", "macro")


@dataclass(frozen=True)
class TiffMetadata:
    """The descriptive part of a TIFF slide; ``associated`` maps names to their series."""

    format_name: str
    mpp_um: tuple[float, float] | None
    objective_power: float | None
    properties: dict[str, str]
    associated: dict[str, tifffile.TiffPageSeries]


def read_tiff_metadata(tiff: tifffile.TiffFile, level_count: int) -> TiffMetadata:
    """The metadata of an open TIFF slide with ``level_count`` pyramid levels."""
    first = tiff.pages.first
    properties: dict[str, str] = {}
    for tag_name, key in _TAG_PROPERTIES:
        tag = first.tags.get(tag_name)
        if tag is not None and isinstance(tag.value, str):
            properties[key] = tag.value
    mpp_um: tuple[float, float] | None = None
    objective: float | None = None
    associated: dict[str, tifffile.TiffPageSeries] = {}
    if tiff.is_svs:
        format_name = "aperio"
        fields = aperio_fields(first.description)
        properties.update({f"aperio.{key}": value for key, value in fields.items()})
        mpp = positive(fields.get("MPP"))
        mpp_um = (mpp, mpp) if mpp is not None else None
        objective = positive(fields.get("AppMag"))
        for other in tiff.series[1:]:
            name = other.name.lower()
            if (
                name in _ASSOCIATED_NAMES
                and other.axes in ("YX", "YXS")
                and not other.keyframe.is_tiled
            ):
                associated[name] = other
    elif tiff.is_ome:
        format_name = "ome-tiff"
        mpp_um, objective = ome_metadata(tiff.ome_metadata or "")
    else:
        format_name = "generic-tiff"
        mpp_um = tiff_resolution_mpp(first)
    mpp_um = microscope_mpp(mpp_um)
    if mpp_um is not None:
        properties["coupe.mpp-x"], properties["coupe.mpp-y"] = (str(v) for v in mpp_um)
    properties["coupe.level-count"] = str(level_count)
    return TiffMetadata(format_name, mpp_um, objective, properties, associated)


def aperio_fields(description: str) -> dict[str, str]:
    """The ``key = value`` fields of an Aperio ``ImageDescription``."""
    # "Aperio Image Library v12 \r\n46000x32914 ... |AppMag = 20|MPP = 0.4990|..."
    fields: dict[str, str] = {}
    for part in description.split("|")[1:]:
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def positive(value: str | None) -> float | None:
    """``value`` as a finite positive number, or None."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 and math.isfinite(number) else None


def ome_metadata(xml: str) -> tuple[tuple[float, float] | None, float | None]:
    """mpp (µm) and objective power of the first OME image."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    mpp = None
    if pixels is not None:
        sizes = []
        for axis in ("X", "Y"):
            size = positive(pixels.get(f"PhysicalSize{axis}"))
            factor = _UNIT_TO_UM.get(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
            sizes.append(size * factor if size is not None and factor is not None else None)
        if sizes[0] is not None and sizes[1] is not None:
            mpp = (sizes[0], sizes[1])
    objective = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Objective"), None)
    power = positive(objective.get("NominalMagnification")) if objective is not None else None
    return mpp, power


def tiff_resolution_mpp(page: tifffile.TiffPage) -> tuple[float, float] | None:
    """mpp (µm) from the resolution tags, as OpenSlide's generic-tiff (only with a real unit),
    but None for a resolution no microscope makes (see ``resolution_mpp``)."""
    unit = {int(tifffile.RESUNIT.INCH): "inch", int(tifffile.RESUNIT.CENTIMETER): "centimeter"}
    name = unit.get(int(page.resolutionunit))
    if name is None:
        return None
    x_res, y_res = page.resolution
    return resolution_mpp(x_res, y_res, name)


def resolution_mpp(x_res: float, y_res: float, unit: str) -> tuple[float, float] | None:
    """mpp (µm) from a resolution of ``x_res`` by ``y_res`` pixels per ``unit`` ("inch" or
    "centimeter"), or None when it is no microscope's: a stock dpi of image software, or
    coarser than ``MAX_MICROSCOPE_MPP_UM``."""
    um_per_unit = _UM_PER_RESOLUTION_UNIT.get(unit)
    if um_per_unit is None or not (x_res > 0 and y_res > 0):
        return None
    dpi_x, dpi_y = (res * 25400.0 / um_per_unit for res in (x_res, y_res))
    if _is_stock_dpi(dpi_x) and _is_stock_dpi(dpi_y):
        return None
    return microscope_mpp((um_per_unit / x_res, um_per_unit / y_res))


def _is_stock_dpi(dpi: float) -> bool:
    return round(dpi) in _STOCK_DPI and abs(dpi - round(dpi)) < _STOCK_DPI_TOLERANCE


def microscope_mpp(mpp_um: tuple[float, float] | None) -> tuple[float, float] | None:
    """``mpp_um`` when a microscope could have made it (finite, positive, at most
    ``MAX_MICROSCOPE_MPP_UM``), else None."""
    if mpp_um is None:
        return None
    if all(math.isfinite(v) and 0 < v <= MAX_MICROSCOPE_MPP_UM for v in mpp_um):
        return mpp_um
    return None
