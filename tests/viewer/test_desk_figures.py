"""The desk's figures in Chromium: the Backlog page's numbers equal GET /worklist/backlog and a
count made here from the demo's database; the Load today page; both charts drawn under the
pages' policy (no 'unsafe-eval'), named, with the tables as their text alternative; axe-core."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, select

from tests.viewer.conftest import ApiClient, DemoServer
from worklist.enums import CaseStatus
from worklist.models import Case, Department


def _open_cases_in_database(demo_server: DemoServer) -> Counter[str]:
    """Open cases per department, counted straight from the demo's SQLite file (read-only)."""
    path = demo_server.data_dir / "worklist.sqlite3"
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Department.code)
                .join(Case, Case.department_id == Department.id)
                .where(Case.status != CaseStatus.SIGNED_OUT)
            )
            return Counter(code for (code,) in rows)
    finally:
        engine.dispose()


def _open_as_manager(signed_in_page: Callable[..., Any], path: str) -> Any:
    """A manager's page on ``path``, once ``/`` has sent them on to the desk (a navigation
    started before that would be interrupted by it)."""
    page = signed_in_page("manager")
    page.wait_for_url("**/desk/queue")
    page.goto(path)
    return page


def _cell_numbers(page: Any, table: str) -> dict[str, int]:
    """Department -> its "Open cases" figure in the table's body and foot."""
    rows = page.get_by_role("table", name=table, exact=True).locator("tbody tr, tfoot tr")
    found: dict[str, int] = {}
    for index in range(rows.count()):
        row = rows.nth(index)
        found[row.locator("th").inner_text()] = int(row.locator("td").first.inner_text())
    return found


def test_backlog_page_equals_api_and_database(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Any],
    api_as: Callable[[str], ApiClient],
    assert_accessible: Callable[[Any, str], None],
) -> None:
    errors: list[str] = []
    page = _open_as_manager(signed_in_page, "/desk/backlog")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.reload()  # the console listener from the first load on
    page.get_by_role("heading", name="Backlog", level=1).wait_for()
    chart = page.get_by_role("img", name="Bar chart: open cases per department")
    chart.locator("canvas").wait_for(timeout=20_000)

    status, body = api_as("manager").get("/worklist/backlog")
    assert status == 200
    counted = _open_cases_in_database(demo_server)
    on_page = _cell_numbers(page, "Per department")
    from_api = {row["department_code"]: row["open_cases"] for row in body["departments"]}
    assert on_page.pop("Region") == body["region"]["open_cases"] == sum(counted.values())
    assert on_page == from_api
    assert {code: n for code, n in from_api.items() if n} == dict(counted)
    # The columns are the API's age buckets, each department's counts under them.
    table = page.get_by_role("table", name="Per department", exact=True)
    headers = table.get_by_role("columnheader").all_inner_texts()
    buckets = [f"{bucket} days" for bucket in body["age_buckets"]]
    assert headers == ["Department", "Open cases", "Open minutes", *buckets, "Overdue"]
    first = body["departments"][0]
    cells = table.get_by_role("row", name=first["department_code"]).get_by_role("cell")
    by_age = cells.all_inner_texts()[2 : 2 + len(buckets)]
    assert by_age == [str(first["cases_by_age"][bucket]) for bucket in body["age_buckets"]]
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert_accessible(page, "desk-backlog")

    page.get_by_label("Department", exact=True).select_option("HMC")
    page.get_by_role("status").filter(has_text="open cases").wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('#departments-table tbody tr').length === 1"
    )
    assert _cell_numbers(page, "Per department")["HMC"] == counted["HMC"]


def test_load_page_shows_every_pathologist(
    signed_in_page: Callable[..., Any],
    api_as: Callable[[str], ApiClient],
    assert_accessible: Callable[[Any, str], None],
) -> None:
    page = _open_as_manager(signed_in_page, "/desk/load")
    page.get_by_role("heading", name="Load today", level=1).wait_for()
    page.get_by_role("img", name="Bar chart: relative load per pathologist").locator(
        "canvas"
    ).wait_for(timeout=20_000)
    status, body = api_as("manager").get("/pathologists/load")
    assert status == 200
    table = page.get_by_role("table", name="Per pathologist", exact=True)
    assert table.locator("tbody tr").count() == len(body["pathologists"])
    first = body["pathologists"][0]
    row = table.locator("tbody tr").filter(has_text=first["code"])
    assert ("Present" if first["present"] else first["absent_because"]) in row.inner_text()
    assert_accessible(page, "desk-load")

    page.get_by_label("Day", exact=True).fill("2027-04-27")  # King's Day: nobody works
    page.get_by_role("button", name="Show").click()
    page.get_by_role("status").filter(has_text="2027").wait_for()
    assert "public holiday" in table.inner_text()
