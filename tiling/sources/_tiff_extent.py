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
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

__all__ = ["TiffOverrun", "tiff_overrun"]

# Bytes per value of each TIFF field type (TIFF 6.0 and BigTIFF); others are skipped.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TYPE_SIZES |= {16: 8, 17: 8, 18: 8}
_OFFSET_DTYPES = {3: "u2", 4: "u4", 13: "u4", 16: "u8"}
_DATA_TAGS = ((273, 279), (324, 325))  # (StripOffsets, StripByteCounts), (TileOffsets, ...)
_SUBIFDS_TAG = 330
_MAX_IFDS = 100_000  # a loop guard: no slide has nearly as many directories


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


def tiff_overrun(path: Path) -> TiffOverrun | None:
    """Where ``path``'s directories point past its end, or None (also for non-TIFF files)."""
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
        return _walk(file, file_size, layout, first)


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


def _walk(file: BinaryIO, file_size: int, layout: _Layout, first: int) -> TiffOverrun | None:
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
        overrun, sub_ifds = _check_entries(file, file_size, layout, entries, count)
        if overrun is not None:
            return overrun
        pending.extend(sub_ifds)
        pending.append(next_ifd)
    return None


def _check_entries(
    file: BinaryIO, file_size: int, layout: _Layout, entries: bytes, count: int
) -> tuple[TiffOverrun | None, list[int]]:
    """Check one IFD's out-of-line values and image data; also return its SubIFD offsets."""
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
