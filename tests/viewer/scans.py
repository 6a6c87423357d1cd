"""Scans a browser test makes for itself: a real slide file dropped into a department's
scanner folder, and cases of the test's own that the importer turns "scanned" with it, so
that a test never depends on what the demo or an earlier test left behind."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.viewer.conftest import ApiClient, DemoServer
from tiling.samples import fetch_sample

SCAN_REGISTER_TIMEOUT_S = 90


def drop_scan(
    demo_server: DemoServer, department: str, name: str, source: Path | None = None
) -> Path:
    """A slide file of its own content (bytes past the TIFF's end) dropped, settled, into the
    department's import folder; its path there. A copy of ``source``, else of the small sample."""
    folder = demo_server.data_dir / "import" / department
    folder.mkdir(parents=True, exist_ok=True)
    staging = demo_server.data_dir / f".staging-{name}"
    shutil.copyfile(source or fetch_sample("small.svs"), staging)
    with staging.open("ab") as f:
        f.write(uuid.uuid4().bytes)  # not a duplicate of any other test's drop
    os.utime(staging, (1_600_000_000, 1_600_000_000))  # long left alone: settled
    target = folder / name
    os.replace(staging, target)
    return target


def urgent_scanned_cases(
    demo_server: DemoServer,
    manager: ApiClient,
    *,
    department_code: str,
    tumour_group: str,
    count: int,
    due_in: timedelta = timedelta(hours=6),
) -> list[dict[str, Any]]:
    """``count`` new cases of ``department_code`` due within ``due_in``, each with one H&E
    slide whose scan is dropped into the scanner folder; returned once every one is
    "scanned" (the importer registered its slide). ``manager`` may register cases."""
    due_at = (datetime.now(UTC) + due_in).isoformat()
    created: list[dict[str, Any]] = []
    for _ in range(count):
        status, case = manager.post(
            "/cases",
            {
                "department_code": department_code,
                "patient_pseudonym": f"PSN-T{uuid.uuid4().hex[:10]}",
                "tumour_group": tumour_group,
                "category": 2,
                "priority": "urgent",
                "due_at": due_at,
                "specimens": [{"label": "A", "blocks": [{"label": "A1", "slides": [{}]}]}],
            },
        )
        assert status == 201, case
        created.append(case)
        drop_scan(demo_server, department_code, f"{case['accession_number']}_A1_HE.svs")
    deadline = time.monotonic() + SCAN_REGISTER_TIMEOUT_S
    waiting = {case["id"] for case in created}
    while waiting and time.monotonic() < deadline:
        for case_id in sorted(waiting):
            _, detail = manager.get(f"/cases/{case_id}")
            if detail["status"] == "scanned":
                waiting.discard(case_id)
        time.sleep(0.5)
    assert not waiting, f"the importer never registered the scans of cases {sorted(waiting)}"
    return [manager.get(f"/cases/{case['id']}")[1] for case in created]
