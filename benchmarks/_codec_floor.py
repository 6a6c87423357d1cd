"""Baseline (d): the codec floor, decoding and encoding only.

Decodes every level-0 source tile of a tiled JPEG TIFF (raw bytes located by tifffile, JPEG
tables merged, decoded by imagecodecs) and JPEG-encodes ``--encode-tiles`` tiles of
``--tile-px`` square with imagecodecs, on ``--threads`` threads. Nothing is written.
The encoded tiles are decoded source tiles padded to the output size, so the content is tissue.
Prints one JSON line with the counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import imagecodecs
import numpy as np
import tifffile

_CHUNK_TILES = 64


def _run_chunk(
    fd: int,
    offsets: Sequence[int],
    bytecounts: Sequence[int],
    tables: bytes | None,
    encode_count: int,
    tile_px: int,
    quality: int,
) -> tuple[int, int]:
    decoded = []
    for offset, bytecount in zip(offsets, bytecounts, strict=True):
        raw = os.pread(fd, bytecount, offset)
        decoded.append(imagecodecs.jpeg_decode(raw, tables=tables))
    padded = []
    for tile in decoded[: max(1, min(len(decoded), encode_count))]:
        pad_y, pad_x = max(0, tile_px - tile.shape[0]), max(0, tile_px - tile.shape[1])
        tile = np.pad(tile, ((0, pad_y), (0, pad_x), (0, 0)), mode="reflect")
        padded.append(np.ascontiguousarray(tile[:tile_px, :tile_px]))
    for i in range(encode_count):
        imagecodecs.jpeg_encode(padded[i % len(padded)], level=quality)
    return len(decoded), encode_count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("slide")
    parser.add_argument("--encode-tiles", type=int, required=True)
    parser.add_argument("--tile-px", type=int, default=256)
    parser.add_argument("--quality", type=int, default=75)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    with tifffile.TiffFile(args.slide) as tif:
        page = tif.pages.first
        if not page.is_tiled or page.compression != tifffile.COMPRESSION.JPEG:
            raise SystemExit(f"{args.slide!r}: level 0 is not tiled JPEG")
        offsets = list(page.dataoffsets)
        bytecounts = list(page.databytecounts)
        tables = page.jpegtables

    chunks = range(0, len(offsets), _CHUNK_TILES)
    # Spread the encodes over the chunks so decode and encode interleave as in a real build.
    shares = [args.encode_tiles * (i + 1) // len(chunks) for i in range(len(chunks))]
    shares = [b - a for a, b in zip([0, *shares[:-1]], shares, strict=True)]
    fd = os.open(args.slide, os.O_RDONLY)
    try:
        with ThreadPoolExecutor(args.threads) as pool:
            futures = [
                pool.submit(
                    _run_chunk,
                    fd,
                    offsets[start : start + _CHUNK_TILES],
                    bytecounts[start : start + _CHUNK_TILES],
                    tables,
                    share,
                    args.tile_px,
                    args.quality,
                )
                for start, share in zip(chunks, shares, strict=True)
            ]
            results = [f.result() for f in futures]
    finally:
        os.close(fd)
    json.dump(
        {
            "decoded": sum(r[0] for r in results),
            "encoded": sum(r[1] for r in results),
            "source_tiles": len(offsets),
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
