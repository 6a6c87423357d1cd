"""Baseline (c): libvips ``dzsave`` through pyvips, in its fastest documented mode.

``tiffload(access="sequential")`` streams level 0 top to bottom; ``dzsave`` shrinks every
level from the one above and writes JPEG tiles with ``Q``, ``depth="onepixel"`` (the full DZI
pyramid, as OpenSlide's DeepZoomGenerator counts it) and ``keep="none"`` (no metadata copied
into every tile). Thread count comes from ``VIPS_CONCURRENCY``.

``--mode direct`` (the default, the benchmark's reference) passes no ``suffix``: dzsave then
writes its JPEG tiles through its built-in direct path. ``--mode suffix`` passes
``suffix=".jpeg"``, which makes dzsave save every tile through the generic per-file saver
named by the suffix (measured here at about 1.7x the time of the direct mode); it is kept as a
second, labelled row only to show the difference. ``depth`` and ``keep`` do not change which
save path is taken (timed both ways). Prints one JSON line with the options used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyvips

DZSAVE_OPTIONS: dict[str, object] = {
    "depth": "onepixel",
    "keep": "none",
}
MODES = ("direct", "suffix")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("slide")
    parser.add_argument("out_dir")
    parser.add_argument("--name", default="slide")
    parser.add_argument("--tile-size", type=int, default=254)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--quality", type=int, default=75)
    parser.add_argument("--mode", choices=MODES, default="direct")
    args = parser.parse_args(argv)

    image = pyvips.Image.tiffload(args.slide, access="sequential")
    options = {**DZSAVE_OPTIONS, "tile_size": args.tile_size, "overlap": args.overlap}
    if args.mode == "suffix":
        options["suffix"] = ".jpeg"
    image.dzsave(str(Path(args.out_dir) / args.name), Q=args.quality, **options)
    json.dump({"mode": args.mode, "options": {**options, "Q": args.quality}}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
