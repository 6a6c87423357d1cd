"""The slide commands, run as a user would: coupe info, coupe tile."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import build_cli
from tiling.samples import fetch_sample

runner = CliRunner()


def test_info_describes_the_slide(cmu_small_region: Path) -> None:
    result = runner.invoke(build_cli(), ["info", str(cmu_small_region)])
    assert result.exit_code == 0, result.output
    for expected in ("aperio", "2,220 x 2,967", "0.499", "20x", "label", "macro"):
        assert expected in result.output


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


@pytest.mark.slow
def test_broken_slide_exits_with_a_message(tmp_path: Path) -> None:
    broken = fetch_sample("unopenable.tiff")
    result = runner.invoke(build_cli(), ["tile", str(broken), str(tmp_path), "-q"])
    assert result.exit_code == 1
    assert "unopenable.tiff" in result.output
    assert "Traceback" not in result.output


def test_bad_option_exits_with_a_message(cmu_small_region: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        build_cli(), ["tile", str(cmu_small_region), str(tmp_path), "--background", "hide"]
    )
    assert result.exit_code == 1
    assert "background handling 'hide'" in result.output
