"""MIRAX (3DHistech ``.mrxs``) slides made from the real tissue, in the layout OpenSlide reads.

A MIRAX slide is a file and a folder: ``NAME.mrxs`` (OpenSlide only checks that it exists) and
``NAME/`` next to it, holding

- ``Slidedat.ini``: the slide's description. ``[GENERAL]`` gives the grid of camera images
  (``IMAGENUMBER_X`` x ``IMAGENUMBER_Y``); ``[HIERARCHICAL]`` lists the layers, of which
  OpenSlide needs one, "Slide zoom level" as ``HIER_0``, with one section per zoom level
  (image size, overlap, mpp, format, and how many images of the level before make one of
  this level); ``[DATAFILE]`` names the data files.
- ``Index.dat``: a version string and the slide id, then little-endian int32 pointers: to a
  table of one pointer per zoom level (each to a chain of pages of ``(image index, offset,
  length, file number)`` records) and to a table of one pointer per non-hierarchical record
  (label, macro, camera positions).
- ``Data0000.dat``: the JPEG images the records point into.

What this writer leaves out is optional in OpenSlide's reader (``openslide-vendor-mirax.c``):
with no ``VIMSLIDE_POSITION_BUFFER`` or ``StitchingIntensityLayer`` record and no overlap,
OpenSlide places the camera images edge to edge, and with ``CameraImageDivisionsPerSide`` 1
every image is one camera position. Each zoom level halves the one before: one image of
level ``k`` covers 2**k x 2**k images of level 0 and is indexed by the top-left one, as a
scanner writes it. The pixels are those of :mod:`tiling.samples.synthetic`: the tissue
mirrored to fill the plane, each level a box average of level 0.
"""

from __future__ import annotations

import itertools
import math
import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tiling.samples._tissue import (
    Pixels,
    box_downsample,
    check_request,
    encode_jpeg,
    iter_jpeg_tiles,
    label_image,
    macro_image,
    mirror_index,
    tissue_for,
)

__all__ = ["MIRAX_SUFFIX", "mirax_data_folder", "write_mirax"]

MIRAX_SUFFIX = ".mrxs"
_INDEX_VERSION = b"01.02"  # the only Index.dat version OpenSlide accepts
_SLIDE_VERSION = "01.03"  # what current scanners write; OpenSlide does not read it
_DATA_FILE = "Data0000.dat"
_INDEX_FILE = "Index.dat"
_MAX_DATA_FILE_BYTES = 2**31 - 1  # Index.dat holds offsets as signed int32
_WHITE_BGR = 0xFFFFFF  # the fill colour of a missing image; OpenSlide's background property
# Names OpenSlide looks for in Slidedat.ini (the associated images and their format keys).
_ZOOM_LAYER = "Slide zoom level"
_SCAN_DATA_LAYER = "Scan data layer"
_ASSOCIATED = {
    "macro": ("ScanDataLayer_SlideThumbnail", "THUMBNAIL_IMAGE_TYPE"),
    "label": ("ScanDataLayer_SlideBarcode", "BARCODE_IMAGE_TYPE"),
}


@dataclass(frozen=True, slots=True)
class _Stored:
    """Where one JPEG lies in the data file."""

    offset: int
    length: int


def mirax_data_folder(mrxs_path: str | os.PathLike[str]) -> Path:
    """The folder of a ``.mrxs``'s data files: its path without the suffix."""
    return Path(mrxs_path).with_suffix("")


def _level_grid(width_px: int, height_px: int, image_px: int) -> list[tuple[int, int]]:
    """Images across and down per zoom level, halving until one image holds the slide."""
    grids = []
    downsample = 1
    while True:
        level_w, level_h = width_px // downsample, height_px // downsample
        grid = (math.ceil(level_w / image_px), math.ceil(level_h / image_px))
        grids.append(grid)
        if grid == (1, 1):
            return grids
        downsample *= 2


def _append(data: BinaryIO, encoded: bytes) -> _Stored:
    offset = data.tell()
    if offset + len(encoded) > _MAX_DATA_FILE_BYTES:
        raise ValueError(
            f"the slide's images pass the {_MAX_DATA_FILE_BYTES} bytes one MIRAX data file "
            "can address; write a smaller slide or a lower quality"
        )
    data.write(encoded)
    return _Stored(offset, len(encoded))


def _index_dat(
    slide_id: str, levels: list[list[tuple[int, _Stored]]], associated: list[_Stored]
) -> bytes:
    """Index.dat: header, the two root pointers, the per-level page chains (one page each) and
    one record per associated image. Every pointer is an absolute file offset."""
    out = bytearray(_INDEX_VERSION + slide_id.encode("ascii"))
    roots_at = len(out)  # OpenSlide finds the roots right after the slide id
    out += bytes(8)
    hier_table_at = len(out)
    out += bytes(4 * len(levels))
    nonhier_table_at = len(out)
    out += bytes(4 * len(associated))
    struct.pack_into("<ii", out, roots_at, hier_table_at, nonhier_table_at)
    for level, records in enumerate(levels):
        head_at = len(out)
        struct.pack_into("<i", out, hier_table_at + 4 * level, head_at)
        # A level's head is a 0 and the pointer to its first page; a page is its record count,
        # the pointer to the next page (0: the last) and the records.
        out += struct.pack("<ii", 0, head_at + 8)
        out += struct.pack("<ii", len(records), 0)
        for image_index, stored in records:
            out += struct.pack("<iiii", image_index, stored.offset, stored.length, 0)
    for record, stored in enumerate(associated):
        head_at = len(out)
        struct.pack_into("<i", out, nonhier_table_at + 4 * record, head_at)
        # A non-hierarchical page has one item: two zeros, then offset, length, file number.
        out += struct.pack("<ii", 0, head_at + 8)
        out += struct.pack("<iiiiiii", 1, 0, 0, 0, stored.offset, stored.length, 0)
    return bytes(out)


def _slidedat_ini(
    *,
    slide_id: str,
    grid0: tuple[int, int],
    level_count: int,
    image_px: int,
    mpp_um: float,
    objective_power: int,
    associated: list[str],
) -> str:
    lines = [
        "[GENERAL]",
        f"SLIDE_VERSION={_SLIDE_VERSION}",
        f"SLIDE_ID={slide_id}",  # repeated in Index.dat: OpenSlide checks the two match
        "SLIDE_NAME=coupe-synthetic",
        f"IMAGENUMBER_X={grid0[0]}",
        f"IMAGENUMBER_Y={grid0[1]}",
        "CameraImageDivisionsPerSide=1",  # each image is one camera position
        f"OBJECTIVE_MAGNIFICATION={objective_power}",
        "",
        "[HIERARCHICAL]",
        f"INDEXFILE={_INDEX_FILE}",
        "HIER_COUNT=1",
        f"HIER_0_NAME={_ZOOM_LAYER}",  # OpenSlide requires the zoom levels as HIER_0
        f"HIER_0_COUNT={level_count}",
    ]
    for level in range(level_count):
        lines += [
            f"HIER_0_VAL_{level}=ZoomLevel_{level}",
            f"HIER_0_VAL_{level}_SECTION=LAYER_0_LEVEL_{level}_SECTION",
        ]
    # Non-hierarchical records are numbered in the order of their values across layers; the
    # associated images are the only ones here, so their numbers are their places in the list.
    lines.append(f"NONHIER_COUNT={1 if associated else 0}")
    if associated:
        lines += [f"NONHIER_0_NAME={_SCAN_DATA_LAYER}", f"NONHIER_0_COUNT={len(associated)}"]
        for record, name in enumerate(associated):
            lines += [
                f"NONHIER_0_VAL_{record}={_ASSOCIATED[name][0]}",
                f"NONHIER_0_VAL_{record}_SECTION=NONHIER_0_VAL_{record}_SECTION",
            ]
    lines += ["", "[DATAFILE]", "FILE_COUNT=1", f"FILE_0={_DATA_FILE}"]
    for level in range(level_count):
        lines += [
            "",
            f"[LAYER_0_LEVEL_{level}_SECTION]",
            "IMAGE_FORMAT=JPEG",
            f"DIGITIZER_WIDTH={image_px}",  # every level's images have the same size
            f"DIGITIZER_HEIGHT={image_px}",
            "OVERLAP_X=0",  # no overlap: images meet edge to edge, no position map needed
            "OVERLAP_Y=0",
            f"MICROMETER_PER_PIXEL_X={mpp_um * 2**level!r}",
            f"MICROMETER_PER_PIXEL_Y={mpp_um * 2**level!r}",
            f"IMAGE_FILL_COLOR_BGR={_WHITE_BGR}",
            # log2 of how many images of the level before, in each direction, make one here
            f"IMAGE_CONCAT_FACTOR={0 if level == 0 else 1}",
        ]
    for record, name in enumerate(associated):
        lines += ["", f"[NONHIER_0_VAL_{record}_SECTION]", f"{_ASSOCIATED[name][1]}=JPEG"]
    return "\r\n".join(lines) + "\r\n"  # the scanner writes Windows line ends


def _level_images(
    source: Pixels, *, level_w: int, level_h: int, image_px: int, quality: int
) -> Iterator[bytes]:
    """The JPEG images of one level, row by row, from its mirrored tissue ``source``.

    An image that hangs over the level's edge is the fill colour past it, as a scanner's
    concatenated images are: OpenSlide draws whole images, so what lies past the edge shows in
    a read there. Images inside are :func:`iter_jpeg_tiles`' own (encoded once, reused).
    """
    tiles = iter_jpeg_tiles(
        source, width_px=level_w, height_px=level_h, tile_size_px=image_px, quality=quality
    )
    corners = itertools.product(range(0, level_h, image_px), range(0, level_w, image_px))
    for (y0, x0), encoded in zip(corners, tiles, strict=True):
        inside_w, inside_h = min(image_px, level_w - x0), min(image_px, level_h - y0)
        if (inside_w, inside_h) == (image_px, image_px):
            yield encoded
            continue
        pixels = np.full((image_px, image_px, 3), 255, dtype=np.uint8)
        rows = mirror_index(y0, y0 + inside_h, source.shape[0])
        cols = mirror_index(x0, x0 + inside_w, source.shape[1])
        pixels[:inside_h, :inside_w] = source[rows][:, cols]
        yield encode_jpeg(pixels, quality)


def _image_indices(grid: tuple[int, int], level: int, images_x: int) -> Iterator[int]:
    """The index of each image of a level, row by row: an image is indexed by the level-0
    image at its top-left corner, so level ``k``'s indices step by 2**k in both directions."""
    step = 2**level
    for row in range(grid[1]):
        for col in range(grid[0]):
            yield row * step * images_x + col * step


def write_mirax(
    path: str | os.PathLike[str],
    *,
    width_px: int,
    height_px: int,
    image_size_px: int = 256,
    quality: int = 75,
    mpp_um: float = 0.25,
    objective_power: int = 40,
    label: bool = True,
    macro: bool = True,
) -> Path:
    """Write a MIRAX slide of the mirrored real tissue that OpenSlide opens as vendor "mirax".

    ``path`` is the ``.mrxs``; its data folder (the same path without the suffix) is made next
    to it and must not exist. The slide is ``width_px`` x ``height_px`` (whole camera images of
    ``image_size_px``, a multiple of 16) at ``mpp_um`` micrometres per pixel, with zoom levels
    halving down to one image, and a JPEG label and macro when asked. Returns ``path``.
    """
    path = Path(path)
    check_request(width_px, height_px, image_size_px, quality, [1])
    if path.suffix.lower() != MIRAX_SUFFIX:
        raise ValueError(f"a MIRAX slide's file ends in {MIRAX_SUFFIX}, got {path.name!r}")
    if width_px % image_size_px or height_px % image_size_px:
        raise ValueError(
            f"a MIRAX slide is whole camera images: {width_px}x{height_px} px is not a "
            f"multiple of the {image_size_px} px image size"
        )
    if mpp_um <= 0:
        raise ValueError(f"mpp_um must be positive, got {mpp_um}")
    grids = _level_grid(width_px, height_px, image_size_px)
    downsamples = [2**level for level in range(len(grids))]
    tissue = tissue_for(image_size_px, downsamples)
    # A stable id per request, so the same call writes the same bytes (and content hash).
    slide_id = uuid.uuid5(
        uuid.NAMESPACE_URL, f"coupe-synthetic-mirax:{width_px}x{height_px}:{image_size_px}"
    ).hex
    folder = mirax_data_folder(path)
    folder.mkdir()
    levels: list[list[tuple[int, _Stored]]] = []
    stored_associated: list[_Stored] = []
    associated = [name for name, wanted in (("macro", macro), ("label", label)) if wanted]
    with (folder / _DATA_FILE).open("wb") as data:
        for level, grid in enumerate(grids):
            images = _level_images(
                box_downsample(tissue, downsamples[level]),
                level_w=width_px // downsamples[level],
                level_h=height_px // downsamples[level],
                image_px=image_size_px,
                quality=quality,
            )
            indices = _image_indices(grid, level, grids[0][0])
            levels.append(
                [
                    (index, _append(data, encoded))
                    for index, encoded in zip(indices, images, strict=True)
                ]
            )
        for name in associated:
            pixels = macro_image(tissue) if name == "macro" else label_image()
            stored_associated.append(_append(data, encode_jpeg(pixels, quality)))
    (folder / _INDEX_FILE).write_bytes(_index_dat(slide_id, levels, stored_associated))
    (folder / "Slidedat.ini").write_text(
        _slidedat_ini(
            slide_id=slide_id,
            grid0=grids[0],
            level_count=len(grids),
            image_px=image_size_px,
            mpp_um=mpp_um,
            objective_power=objective_power,
            associated=associated,
        ),
        encoding="utf-8",
        newline="",
    )
    # Written last: a reader that finds the .mrxs finds the folder complete.
    path.write_text(f"[GENERAL]\r\nSLIDE_ID={slide_id}\r\n", encoding="ascii", newline="")
    return path
