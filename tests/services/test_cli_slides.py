"""The slide commands, run as a user would: coupe info, coupe tile."""

from __future__ import annotations

import struct
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

import tiling.pyramid
from services.cli import build_cli
from tiling.samples import fetch_sample

runner = CliRunner()


def test_info_describes_the_slide(cmu_small_region: Path) -> None:
    result = runner.invoke(build_cli(), ["info", str(cmu_small_region)])
    assert result.exit_code == 0, result.output
    for expected in ("aperio", "2,220 x 2,967", "0.499", "20x", "label", "macro"):
        assert expected in result.output


def test_info_presents_no_72_dpi_tags_as_a_microscope_resolution(boxes_tiff: Path) -> None:
    # boxes.tiff was saved by an image program: 28.35 pixels per cm, 72 dpi.
    result = runner.invoke(build_cli(), ["info", str(boxes_tiff)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "resolution" in line)
    assert "unknown" in line and "µm" not in line


def test_tile_writes_the_pyramid_and_reports(cmu_small_region: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        build_cli(), ["tile", str(cmu_small_region), str(tmp_path), "--archive", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "160 tiles" in result.output
    assert (tmp_path / "CMU-1-Small-Region.dzi").exists()
    assert (tmp_path / "CMU-1-Small-Region.zip").exists()
    again = runner.invoke(build_cli(), ["tile", str(cmu_small_region), str(tmp_path), "-q"])
    assert again.exit_code == 0
    assert "complete already" in again.output


def test_tile_with_other_options_on_a_finished_pyramid_asks_for_overwrite(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    command = ["tile", str(cmu_small_region), str(tmp_path), "-q"]
    assert runner.invoke(build_cli(), command).exit_code == 0
    dzi = tmp_path / "CMU-1-Small-Region.dzi"
    mtime = dzi.stat().st_mtime_ns
    refused = runner.invoke(build_cli(), [*command, "--tile-size", "510"])
    assert refused.exit_code == 2
    line = _one_error_line(refused.output)
    assert "built with tile_size_px 254, not 510" in line
    assert line.endswith("add --overwrite to replace it")
    assert dzi.stat().st_mtime_ns == mtime
    replaced = runner.invoke(build_cli(), [*command, "--tile-size", "510", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert 'TileSize="510"' in dzi.read_text(encoding="utf-8")


@pytest.mark.slow
def test_broken_slide_exits_with_a_message(tmp_path: Path) -> None:
    broken = fetch_sample("unopenable.tiff")
    result = runner.invoke(build_cli(), ["tile", str(broken), str(tmp_path), "-q"])
    assert result.exit_code == 2
    assert "unopenable.tiff" in result.output
    assert "Traceback" not in result.output


def test_bad_option_exits_with_a_message(cmu_small_region: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        build_cli(),
        ["tile", str(cmu_small_region), str(tmp_path), "--background", "hide"],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 2
    assert "'hide' is not one of 'write', 'skip', 'share'" in result.output
    result = runner.invoke(
        build_cli(), ["tile", str(cmu_small_region), str(tmp_path), "--tile-size", "0"]
    )
    assert result.exit_code == 2
    assert "tile size must be at least 1 px, not 0" in _one_error_line(result.output)


@pytest.mark.parametrize("command", [[], ["tile"], ["info"], ["assign"], ["db", "upgrade"]])
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    result = runner.invoke(build_cli(), [*command, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output


def test_tile_help_lists_every_choice() -> None:
    result = runner.invoke(build_cli(), ["tile", "--help"], env={"COLUMNS": "160"})
    for choices in ("<jpeg|png|webp>", "<write|skip|share>", "<tifffile|openslide|pillow>"):
        assert choices in result.output
    for flag in ("--limit-bounds", "--archive", "--quiet"):
        line = next(line for line in result.output.splitlines() if flag in line)
        assert "<" not in line, line


def _one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in output
    return lines[0]


def test_output_path_that_is_a_file_exits_2_with_one_line(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "pyramids"
    a_file.write_text("not a folder")
    for outdir in (a_file, a_file / "below"):
        result = runner.invoke(build_cli(), ["tile", str(cmu_small_region), str(outdir), "-q"])
        assert result.exit_code == 2
        line = _one_error_line(result.output)
        assert f"cannot write the pyramid to {str(outdir)!r}" in line
        assert line.endswith("is a file, not a folder")


def test_output_folder_that_cannot_be_written_exits_2_with_one_line(
    cmu_small_region: Path,
) -> None:
    # Tests run as root, and chmod stops no root: sysfs refuses new files to root too
    # (EACCES), and procfs refuses new folders (ENOENT).
    for outdir, reason in (("/sys/kernel", "Permission denied"), ("/proc/coupe", "No such file")):
        if not Path(outdir).parent.is_dir():
            pytest.skip(f"no {Path(outdir).parent} here")
        result = runner.invoke(build_cli(), ["tile", str(cmu_small_region), outdir, "-q"])
        assert result.exit_code == 2
        line = _one_error_line(result.output)
        assert repr(outdir) in line and reason in line


def test_truncated_slide_exits_2_saying_where_it_ends(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.svs"
    copy.write_bytes(cmu_small_region.read_bytes()[:1_300_000])
    for command in (["tile", str(copy), str(tmp_path / "out"), "-q"], ["info", str(copy)]):
        result = runner.invoke(build_cli(), command)
        assert result.exit_code == 2
        line = _one_error_line(result.output)
        assert "the file ends at byte 1300000 but its directory points to 1474362" in line
        assert line.endswith("incomplete copy?")
    assert not (tmp_path / "out" / "copy.dzi").exists()


def test_ctrl_c_says_how_to_resume_and_the_same_command_resumes(
    cmu_small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run_block = tiling.pyramid.run_block
    calls = {"count": 0}

    def ctrl_c_on_fourth(context: Any, block: Any, *deps: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 4:
            raise KeyboardInterrupt
        return real_run_block(context, block, *deps)

    command = ["tile", str(cmu_small_region), str(tmp_path), "--tile-size", "128", "--workers", "1"]
    monkeypatch.setattr(tiling.pyramid, "run_block", ctrl_c_on_fourth)
    interrupted = runner.invoke(build_cli(), [*command, "-q"])
    assert interrupted.exit_code == 130
    assert interrupted.output.strip() == "interrupted; run the same command again to resume"
    monkeypatch.setattr(tiling.pyramid, "run_block", real_run_block)
    again = runner.invoke(build_cli(), [*command, "-q"])
    assert again.exit_code == 0, again.output
    assert "resumed 3 of" in again.output


def test_version() -> None:
    result = runner.invoke(build_cli(), ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"coupe {version('coupe')}"


def test_no_library_output_reaches_the_terminal(tmp_path: Path) -> None:
    # A TIFF that reads fine but carries a tag of an unknown type: tifffile logs about it,
    # and with no logging set up Python prints that to stderr. Run as an operator runs it
    # (pytest's own log capture would hide the line in-process).
    slide = tmp_path / "odd-tag.tiff"
    tifffile.imwrite(
        slide,
        np.full((64, 64, 3), 200, np.uint8),
        photometric="rgb",
        extratags=[(65000, "I", 1, 7, True)],
    )
    data = bytearray(slide.read_bytes())
    entry = data.find(struct.pack("<HH", 65000, 4))
    data[entry + 2 : entry + 4] = struct.pack("<H", 99)  # field type 99 does not exist
    slide.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", "from services.cli import main; main()", "info", str(slide)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "64 x 64 px" in result.stdout
    assert result.stderr == ""
