"""Whether a TIFF file holds everything its directories point to: a check for incomplete copies.

A slide copied off a scanner share that stopped half-way still starts like a good TIFF, and
the TIFF readers take it quietly: tifffile logs "invalid page offset" and drops the levels it
cannot reach, OpenSlide may open it and fail on a tile much later. So before any backend
opens a TIFF, its image file directories are walked here (classic TIFF and BigTIFF, the
chain of IFDs and their SubIFDs) and every byte range they point to (out-of-line tag values,
strips and tiles) is held against the file's size.

Only ranges past the end are looked for; the rest of the file's sense is the backends' to
judge. NDPI files over 4 GiB keep 32-bit offsets that wrap around: wrapped offsets are
smaller than the file, so such files pass as they should.

The same walk also holds each large image against the bytes its tiles or strips occupy: a
directory may claim a 50,000 x 50,000 px image whose every tile offset points to the same few
kilobytes, or a 1,000,000 x 1,000,000 px header on a file of a few hundred, and a reader would
take either and decode the same bytes billions of pixels over. Offsets shared between tiles are
not refused as such (tifftools and large_image write identical tiles once, and sparse TIFFs
leave empty tiles at offset 0); what is refused is an image whose distinct data is far smaller
than any real compression of its pixels (:data:`MIN_BYTES_PER_PX`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MIN_BYTES_PER_PX",
    "MIN_JUDGED_PX",
    "ImplausibleImage",
    "TiffInspection",
    "TiffOverrun",
    "inspect_tiff",
    "tiff_overrun",
]

# Bytes per value of each TIFF field type (TIFF 6.0 and BigTIFF); others are skipped.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TYPE_SIZES |= {16: 8, 17: 8, 18: 8}
_OFFSET_DTYPES = {3: "u2", 4: "u4", 13: "u4", 16: "u8"}
_DATA_TAGS = ((273, 279), (324, 325))  # (StripOffsets, StripByteCounts), (TileOffsets, ...)
_SUBIFDS_TAG = 330
_MAX_IFDS = 100_000  # a loop guard: no slide has nearly as many directories
_WIDTH_TAG, _LENGTH_TAG = 256, 257

MIN_BYTES_PER_PX = 1 / 10_000
"""The least image data a large image may hold per pixel it claims. Real slides hold 0.05-0.5
bytes per pixel (JPEG, JPEG 2000 at 20-50:1); a blank JPEG tile still costs about one byte per
100 px and deflate cannot pass 1032:1. A thousand times below the blankest real compression,
no slide is refused, and a file that claims 10,000 px for every byte it holds is one whose
tiles reuse the same bytes, or whose header lies about its size."""
MIN_JUDGED_PX = 100_000_000
"""Images smaller than this (10,000 x 10,000 px) are not judged: tiling them costs seconds
whatever their file claims, and small uniform images (labels, blank test slides, zstd) can
compress past any threshold."""


@dataclass(frozen=True)
class TiffOverrun:
    """A TIFF whose directory points past its end: ``file_size`` bytes, a pointer to ``offset``."""

    file_size: int
    offset: int


@dataclass(frozen=True)
class _Layout:
    order: str  # "<" or ">"
    big: bool

    @property
    def count_format(self) -> str:
        return self.order + ("Q" if self.big else "H")

    @property
    def offset_format(self) -> str:
        return self.order + ("Q" if self.big else "I")

    @property
    def entry_size(self) -> int:
        return 20 if self.big else 12

    @property
    def inline_size(self) -> int:
        return 8 if self.big else 4


@dataclass(frozen=True)
class ImplausibleImage:
    """An image of ``width_px`` x ``height_px`` whose ``block_count`` tiles or strips occupy
    only ``distinct_bytes`` bytes of the file; ``shared_offset_count`` of them start at one
    offset (the most shared)."""

    width_px: int
    height_px: int
    block_kind: str  # "tiles" or "strips"
    block_count: int
    distinct_bytes: int
    shared_offset_count: int


@dataclass(frozen=True)
class TiffInspection:
    """What walking a TIFF's directories found: the first pointer past its end, and the first
    image far larger than its data (each None when there is none)."""

    overrun: TiffOverrun | None
    implausible: ImplausibleImage | None


def inspect_tiff(path: Path) -> TiffInspection | None:
    """Walk ``path``'s directories (see the module docstring); None for non-TIFF files."""
    with path.open("rb") as file:
        file_size = path.stat().st_size
        header = file.read(16)
        layout = _layout(header)
        if layout is None:
            return None
        if layout.big:
            first = struct.unpack(layout.offset_format, header[8:16])[0]
        else:
            first = struct.unpack(layout.offset_format, header[4:8])[0]
        implausible: list[ImplausibleImage] = []
        overrun = _walk(file, file_size, layout, first, implausible)
        return TiffInspection(overrun, implausible[0] if implausible else None)


def tiff_overrun(path: Path) -> TiffOverrun | None:
    """Where ``path``'s directories point past its end, or None (also for non-TIFF files)."""
    inspection = inspect_tiff(path)
    return None if inspection is None else inspection.overrun


def _layout(header: bytes) -> _Layout | None:
    if len(header) < 8 or header[:2] not in (b"II", b"MM"):
        return None
    order = "<" if header[:2] == b"II" else ">"
    version = struct.unpack(order + "H", header[2:4])[0]
    if version == 42:
        return _Layout(order, big=False)
    if version == 43 and len(header) == 16:
        return _Layout(order, big=True)
    return None


def _walk(
    file: BinaryIO,
    file_size: int,
    layout: _Layout,
    first: int,
    implausible: list[ImplausibleImage],
) -> TiffOverrun | None:
    pending = [first]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_IFDS:
        offset = pending.pop()
        if offset == 0 or offset in seen:
            continue
        seen.add(offset)
        count_size = struct.calcsize(layout.count_format)
        if offset + count_size > file_size:
            return TiffOverrun(file_size, offset)
        file.seek(offset)
        count = struct.unpack(layout.count_format, file.read(count_size))[0]
        ifd_end = offset + count_size + count * layout.entry_size + layout.inline_size
        if ifd_end > file_size:
            return TiffOverrun(file_size, ifd_end)
        entries = file.read(count * layout.entry_size)
        next_ifd = struct.unpack(layout.offset_format, file.read(layout.inline_size))[0]
        overrun, sub_ifds = _check_entries(file, file_size, layout, entries, count, implausible)
        if overrun is not None:
            return overrun
        pending.extend(sub_ifds)
        pending.append(next_ifd)
    return None


def _check_entries(
    file: BinaryIO,
    file_size: int,
    layout: _Layout,
    entries: bytes,
    count: int,
    implausible: list[ImplausibleImage],
) -> tuple[TiffOverrun | None, list[int]]:
    """Check one IFD's out-of-line values and image data (an image far larger than its data
    goes to ``implausible``); also return its SubIFD offsets."""
    entry_format = layout.order + ("HHQ" if layout.big else "HHI")
    head_size = struct.calcsize(entry_format)
    values: dict[int, tuple[int, int, bytes]] = {}
    for index in range(count):
        entry = entries[index * layout.entry_size : (index + 1) * layout.entry_size]
        tag, field_type, value_count = struct.unpack(entry_format, entry[:head_size])
        raw = entry[head_size:]
        size = _TYPE_SIZES.get(field_type)
        if size is None:
            continue  # an unknown type: the backends decide what to make of it
        byte_count = size * value_count
        if byte_count > layout.inline_size:
            value_offset = struct.unpack(layout.offset_format, raw)[0]
            if value_offset + byte_count > file_size:
                return TiffOverrun(file_size, value_offset + byte_count), []
        values[tag] = (field_type, value_count, raw)
    for offsets_tag, counts_tag in _DATA_TAGS:
        if offsets_tag in values and counts_tag in values:
            starts = _read_values(file, layout, *values[offsets_tag])
            lengths = _read_values(file, layout, *values[counts_tag])
            if starts is not None and lengths is not None and starts.shape == lengths.shape:
                ends = starts + lengths
                end = int(ends[lengths > 0].max(initial=0))
                if end > file_size:
                    return TiffOverrun(file_size, end), []
                kind = "strips" if offsets_tag == _DATA_TAGS[0][0] else "tiles"
                image = _implausible_image(file, layout, values, kind, starts, lengths)
                if image is not None:
                    implausible.append(image)
    sub_ifds = _read_values(file, layout, *values[_SUBIFDS_TAG]) if _SUBIFDS_TAG in values else None
    return None, [] if sub_ifds is None else [int(v) for v in sub_ifds]


def _read_values(
    file: BinaryIO, layout: _Layout, field_type: int, value_count: int, raw: bytes
) -> NDArray[np.uint64] | None:
    """An offset or byte-count array (SHORT, LONG, IFD or LONG8 values) as uint64."""
    code = _OFFSET_DTYPES.get(field_type)
    if code is None:
        return None
    dtype = np.dtype(layout.order + code)
    byte_count = dtype.itemsize * value_count
    if byte_count <= layout.inline_size:
        data = raw[:byte_count]
    else:
        file.seek(struct.unpack(layout.offset_format, raw)[0])
        data = file.read(byte_count)
    return np.frombuffer(data, dtype=dtype).astype(np.uint64)


def _implausible_image(
    file: BinaryIO,
    layout: _Layout,
    values: dict[int, tuple[int, int, bytes]],
    kind: str,
    starts: NDArray[np.uint64],
    lengths: NDArray[np.uint64],
) -> ImplausibleImage | None:
    """The image of one IFD, if it claims far more pixels than its data could hold."""
    if _WIDTH_TAG not in values or _LENGTH_TAG not in values:
        return None
    width = _read_values(file, layout, *values[_WIDTH_TAG])
    height = _read_values(file, layout, *values[_LENGTH_TAG])
    if width is None or height is None or width.size != 1 or height.size != 1:
        return None
    width_px, height_px = int(width[0]), int(height[0])
    if width_px * height_px < MIN_JUDGED_PX:
        return None
    present = (starts > 0) & (lengths > 0)  # offset 0, length 0: a sparse TIFF's empty tile
    distinct_bytes = _union_length(starts[present], starts[present] + lengths[present])
    if distinct_bytes >= width_px * height_px * MIN_BYTES_PER_PX:
        return None
    _, shared = np.unique(starts[present], return_counts=True)
    return ImplausibleImage(
        width_px=width_px,
        height_px=height_px,
        block_kind=kind,
        block_count=int(starts.size),
        distinct_bytes=distinct_bytes,
        shared_offset_count=int(shared.max(initial=0)),
    )


def _union_length(starts: NDArray[np.uint64], ends: NDArray[np.uint64]) -> int:
    """How many bytes the ranges ``[start, end)`` cover together, overlaps counted once."""
    if starts.size == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order].astype(np.int64), ends[order].astype(np.int64)
    # Each range adds what reaches past the furthest end of the ranges before it.
    reached = np.concatenate(([starts[0]], np.maximum.accumulate(ends)[:-1]))
    return int(np.clip(ends - np.maximum(starts, reached), 0, None).sum())
