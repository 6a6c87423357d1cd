"""The import queue in Chromium: a scanner file with the README's kind of name but no such case
waits on the page with its reason; the lab manager links it to a real case from the page and
the file becomes that case's slide; another file is discarded with a note. axe-core and a
screenshot."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select

from tests.viewer.conftest import ApiClient, DemoServer
from tests.viewer.scans import drop_scan
from worklist.enums import CaseStatus
from worklist.models import Case, Department


def an_open_case(demo_server: DemoServer, department: str) -> str:
    """The accession number of a case of ``department`` not yet signed out (read only)."""
    url = f"sqlite:///file:{demo_server.data_dir / 'worklist.sqlite3'}?mode=ro&uri=true"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            accession = connection.scalar(
                select(Case.accession_number)
                .join(Department, Case.department_id == Department.id)
                .where(Department.code == department, Case.status != CaseStatus.SIGNED_OUT)
                .order_by(Case.id.desc())
                .limit(1)
            )
    finally:
        engine.dispose()
    assert accession is not None
    return str(accession)


def wait_queued(manager: ApiClient, name: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items = manager.all_items("/imports?status=open")
        found = [i for i in items if i["file_name"] == name]
        if found:
            entry: dict[str, Any] = found[0]
            return entry
        time.sleep(0.5)
    raise AssertionError(f"{name} never reached the import queue")


def test_a_manager_links_an_unmatched_scan_to_its_case_and_discards_another(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    unmatched = drop_scan(
        demo_server, "ALR", f"ALR-T26-9{int(tag, 16) % 99999:05d}_A1_HE_{tag}.svs"
    )
    junk = drop_scan(demo_server, "ALR", f"scan-{tag}.svs")
    account = new_account("lab_manager")
    manager = api_as(account["username"], account["password"])
    queued = wait_queued(manager, unmatched.name)
    assert queued["problem"] == "no_case"
    wait_queued(manager, junk.name)
    target = an_open_case(demo_server, "ALR")

    page = signed_in_page(account["username"], account["password"])
    page.goto("/desk/imports")
    expect(page.get_by_role("heading", name="Import queue", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=unmatched.name)
    expect(row).to_contain_text("No matching case")
    expect(row).to_contain_text("no case has the accession number")
    screenshot(page, "desk-imports")
    assert_accessible(page, "desk-imports")

    link_form = page.get_by_role("form", name=f"Link {unmatched.name}")
    link_form.get_by_label("Case accession number").fill(target)
    link_form.get_by_role("button", name="Link").click()
    expect(page.get_by_role("status").filter(has_text=f"linked to {target}")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=unmatched.name)).to_have_count(0)
    linked = manager.all_items("/imports?status=linked")
    [entry] = [i for i in linked if i["file_name"] == unmatched.name]
    assert entry["accession_number"] == target and entry["slide_id"] is not None
    assert not unmatched.exists()

    discard_form = page.get_by_role("form", name=f"Discard {junk.name}")
    discard_form.get_by_role("button", name="Discard").click()  # no note: the browser refuses
    expect(page.get_by_role("row").filter(has_text=junk.name)).to_have_count(1)
    discard_form.get_by_label("Why discard").fill("<b>test scan</b>, not a patient's")
    discard_form.get_by_role("button", name="Discard").click()
    expect(page.get_by_role("row").filter(has_text=junk.name)).to_have_count(0)
    assert not junk.exists()

    page.get_by_label("Show").select_option("discarded")
    row = page.get_by_role("row").filter(has_text=junk.name)
    expect(row).to_contain_text("<b>test scan</b>, not a patient's")  # shown as text
    assert_accessible(page, "desk-imports-discarded")
