"""The backoffice step of ``coupe demo``: accounts, a scanned real slide, its tiling job."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from services.commands.demo_backoffice import run_backoffice_demo
from services.commands.demo_worklist import DEMO_DATABASE, run_worklist_demo


@pytest.mark.slow
def test_backoffice_demo_scans_and_tiles_the_real_slide(
    tmp_path: Path, cmu_small_region: Path
) -> None:
    output = io.StringIO()
    console = Console(file=output, width=200)
    run_worklist_demo(console, tmp_path)
    demo_dir = (tmp_path / DEMO_DATABASE).parent
    run_backoffice_demo(console, demo_dir, cmu_small_region)
    text = output.getvalue()
    assert "done, 160 of 160 tiles" in text
    assert f"COUPE_DATA_DIR={demo_dir}" in text
    assert list((demo_dir / "pyramids").glob("*/slide.dzi"))
