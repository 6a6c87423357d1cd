"""Pixel agreement of Coupe's pyramid with OpenSlide's DeepZoomGenerator, per level (PSNR).

``python -m benchmarks.agreement [SLIDE]`` builds the pyramid (tile 254, overlap 1, JPEG Q75)
and compares every tile of every level with DeepZoomGenerator's tile for the same address:

- ``coupe_vs_openslide``: Coupe's decoded JPEG tile against OpenSlide's raw (unencoded) tile;
- ``jpeg_only``: OpenSlide's own tile after a Q75 JPEG round trip against its raw tile: the
  noise JPEG alone explains;
- ``filter_only``: a 2x2-mean reference (no JPEG) against OpenSlide's Lanczos tile: what the
  different downsampling filter alone explains (0 at full resolution).

Writes ``benchmarks/results/agreement.json`` and ``agreement.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import openslide
from openslide.deepzoom import DeepZoomGenerator
from PIL import Image

from tiling.downsample import halve
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import fetch_sample
from tiling.sources import open_slide

Pixels = npt.NDArray[np.uint8]


def _psnr_db(squared_error: float, count: int) -> float:
    if count == 0 or squared_error == 0:
        return 99.0
    return float(10 * np.log10(255.0**2 / (squared_error / count)))


def _squared(a: Pixels, b: Pixels) -> float:
    return float(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def measure(slide: Path, levels_to_check: int) -> list[dict[str, object]]:
    """PSNR per Deep Zoom level, from full resolution down ``levels_to_check`` levels."""
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        result = build_pyramid(slide, Path(tmp), PyramidOptions())
        geometry = result.geometry
        dzg = DeepZoomGenerator(openslide.OpenSlide(slide), 254, 1, False)
        with open_slide(slide) as source:
            level_pixels = source.read_region(geometry.l0_offset, 0, geometry.l0_dimensions)
        rows: list[dict[str, object]] = []
        top = geometry.level_count - 1
        for level in range(top, max(-1, top - levels_to_check), -1):
            if level < top:
                level_pixels = halve(level_pixels)
            sums = {"coupe": 0.0, "jpeg": 0.0, "filter": 0.0}
            count = 0
            for col, row in geometry.tiles(level):
                raw_image = dzg.get_tile(level, (col, row))
                raw = np.asarray(raw_image)
                with Image.open(result.files_dir / f"{level}/{col}_{row}.jpeg") as tile_image:
                    ours = np.asarray(tile_image.convert("RGB"))
                buffer = io.BytesIO()
                raw_image.save(buffer, "JPEG", quality=75)
                with Image.open(buffer) as round_trip:
                    theirs_jpeg = np.asarray(round_trip.convert("RGB"))
                z_x, z_y = geometry.tile_box(level, col, row).origin
                # OpenSlide's thumbnail() may come out 1 px short: compare the common area.
                height, width = min(raw.shape[0], ours.shape[0]), min(raw.shape[1], ours.shape[1])
                raw = raw[:height, :width]
                reference = level_pixels[z_y : z_y + height, z_x : z_x + width]
                sums["coupe"] += _squared(raw, ours[:height, :width])
                sums["jpeg"] += _squared(raw, theirs_jpeg[:height, :width])
                sums["filter"] += _squared(raw, reference)
                count += raw.size
            rows.append(
                {
                    "level": level,
                    "size": list(geometry.z_dimensions[level]),
                    "tiles": geometry.level_tile_count(level),
                    "coupe_vs_openslide_db": round(_psnr_db(sums["coupe"], count), 2),
                    "jpeg_only_db": round(_psnr_db(sums["jpeg"], count), 2),
                    "filter_only_db": round(_psnr_db(sums["filter"], count), 2),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agreement", description=__doc__)
    parser.add_argument("slide", nargs="?", type=Path, help="default: CMU-1-Small-Region.svs")
    parser.add_argument("--levels", type=int, default=8, help="levels to compare")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    slide: Path = args.slide or fetch_sample("CMU-1-Small-Region.svs")
    rows = measure(slide, args.levels)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agreement.json").write_text(
        json.dumps({"slide": slide.name, "levels": rows}, indent=2) + "\n"
    )
    lines = [
        f"# Agreement with OpenSlide's DeepZoomGenerator: {slide.name}",
        "",
        "Tile 254, overlap 1, JPEG Q75. PSNR against DeepZoomGenerator's raw tile (99 = equal).",
        "",
        "| level | size | tiles | Coupe vs OpenSlide dB | JPEG alone dB | filter alone dB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = r["size"]
        assert isinstance(size, list)
        lines.append(
            f"| {r['level']} | {size[0]}x{size[1]} | {r['tiles']} | "
            f"{r['coupe_vs_openslide_db']} | {r['jpeg_only_db']} | {r['filter_only_db']} |"
        )
    (args.out / "agreement.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
