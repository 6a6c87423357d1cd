"""Benchmark entry point for the viewer timings (open a case, change slide, pan) in Chromium.

The measurement is a browser test, ``tests/viewer/test_remote_timing.py``: it needs the test
suite's fixtures (the demo prepared and served, Debian's Chromium under Playwright), so this
runs that one test with pytest and copies what it writes (``test-artifacts/viewer-timings.json``
and ``.md``) to ``--out``. ``python -m benchmarks.viewer_timings [--out DIR]``; it fails when
the test fails or skips (no Chromium: ``make browser`` installs it as root).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/viewer/test_remote_timing.py"
ARTIFACTS = _REPO_ROOT / "test-artifacts"
NAMES = ("viewer-timings.json", "viewer-timings.md")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the timing test; copy its results to ``--out``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.viewer_timings", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=_REPO_ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    # The test writes to test-artifacts/ and, with this set, to benchmarks/results itself;
    # here the copy below decides where the results go.
    env.pop("COUPE_RECORD_VIEWER_TIMINGS", None)
    # A missing Chromium is then a failure, not a skip that looks like a result.
    env["CI"] = "true"
    started = time.time()
    command = [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider", "-x"]
    print(" ".join(command), flush=True)
    completed = subprocess.run(command, cwd=_REPO_ROOT, env=env, check=False)
    written = [ARTIFACTS / name for name in NAMES]
    fresh = all(path.exists() and path.stat().st_mtime >= started for path in written)
    if completed.returncode != 0 or not fresh:
        print(
            f"viewer timings: {TEST} exited with {completed.returncode}"
            + ("" if fresh else " and wrote no results"),
            file=sys.stderr,
        )
        return completed.returncode or 1
    args.out.mkdir(parents=True, exist_ok=True)
    for path in written:
        shutil.copyfile(path, args.out / path.name)
        print(f"wrote {args.out / path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
