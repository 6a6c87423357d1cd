"""``coupe simulate``: the comparison as JSON and as a page, from the stream or the history."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import build_cli
from tests.worklist.conftest import MANAGER, database_url  # noqa: F401 - the fixture
from worklist.actor import Actor
from worklist.db import make_engine
from worklist.migrate import upgrade_database
from worklist.operations import intake_cases
from worklist.region import default_region, default_region_path
from worklist.seeding import import_region
from worklist.synthetic import case_stream

runner = CliRunner()
SMALL = ["--weeks", "1", "--cases-per-year", "8000"]


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # rich folds long cells on a narrow console


def test_json_compares_the_policies_given(tmp_path: Path) -> None:
    output = tmp_path / "sim.json"
    result = runner.invoke(
        build_cli(),
        ["simulate", "--policies", "local,regional,no-continuity", "--seed", "4", *SMALL,
         "--format", "json", "--output", str(output)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote {output} (json)" in result.output
    assert "local" in result.output and "no-continuity" in result.output  # the table
    data = json.loads(output.read_text(encoding="utf-8"))
    assert (data["source"], data["seed"], data["weeks"], data["start"]) == (
        "synthetic",
        4,
        1,
        "2025-03-03",
    )
    assert [p["name"] for p in data["policies"]] == ["local", "regional", "no-continuity"]
    assert data["policies"][0]["moved_cases"] == 0 < data["policies"][1]["moved_cases"]
    again = tmp_path / "again.json"
    runner.invoke(
        build_cli(),
        ["simulate", "--policies", "local,regional,no-continuity", "--seed", "4", *SMALL,
         "--output", str(again)],
    )  # fmt: skip
    assert again.read_text(encoding="utf-8") == output.read_text(encoding="utf-8")


def test_html_is_one_page_with_the_text_escaped(tmp_path: Path) -> None:
    region_file = tmp_path / "region.toml"
    text = default_region_path().read_text(encoding="utf-8")
    name = 'name = "Regionale digitale pathologie Zuid-Holland"'
    assert name in text
    region_file.write_text(text.replace(name, 'name = "<b>Zuid</b> & co"'), encoding="utf-8")
    output = tmp_path / "sim.html"
    result = runner.invoke(
        build_cli(),
        ["simulate", *SMALL, "--region", str(region_file), "--format", "html",
         "--output", str(output)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = output.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "&lt;b&gt;Zuid&lt;/b&gt; &amp; co" in page and "<b>Zuid" not in page
    assert "<th scope='row'>local</th>" in page and "<th scope='row'>regional</th>" in page
    assert "http" not in page  # nothing fetched: it opens offline
    for heading in ("TAT P90 (days)", "% within target", "balance (Gini)", "km (cases)"):
        assert heading in page


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--policies", "local,teleport"], "unknown policy 'teleport'"),
        (["--weeks", "0"], "--weeks must lie in 1..104, got 0"),
        (["--weeks", "200"], "--weeks must lie in 1..104, got 200"),
        (["--start", "March"], "--start 'March' is not an ISO date"),
        (["--cases-per-year", "0"], "--cases-per-year must be positive"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, arguments: list[str], message: str) -> None:
    output = tmp_path / "sim.json"
    result = runner.invoke(build_cli(), ["simulate", *arguments, "--output", str(output)])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not output.exists()


def test_unwritable_output_is_refused(tmp_path: Path) -> None:
    missing = runner.invoke(
        build_cli(), ["simulate", *SMALL, "--output", str(tmp_path / "no" / "sim.json")]
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output
    folder = runner.invoke(build_cli(), ["simulate", *SMALL, "--output", str(tmp_path)])
    assert folder.exit_code == 1 and f"cannot write {tmp_path}" in " ".join(folder.output.split())
    assert "Traceback" not in missing.output + folder.output


def test_history_replays_the_recorded_cases(
    database_url: str,  # noqa: F811 - pytest's fixture injection
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COUPE_DATABASE_URL", database_url)
    upgrade_database(database_url)
    engine = make_engine(database_url, pool_size=2)
    week = date(2025, 3, 3)
    try:
        import_region(engine=engine, actor=Actor.system(), region=default_region())
        stream = case_stream(start=week, days=7, seed=2, cases_per_year=4000)
        intake_cases(
            engine=engine, actor=MANAGER, cases=stream, now=datetime(2025, 3, 10, tzinfo=UTC)
        )
    finally:
        engine.dispose()
    output = tmp_path / "history.json"
    arguments = ["--source", "history", "--start", week.isoformat(), "--weeks", "1"]
    result = runner.invoke(build_cli(), ["simulate", *arguments, "--output", str(output)])
    assert result.exit_code == 0, result.output
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["source"] == "history" and data["seed"] is None
    assert data["cases"] == len(stream) > 0

    empty = runner.invoke(
        build_cli(),
        ["simulate", "--source", "history", "--start", "2024-01-01", "--weeks", "1",
         "--output", str(output)],
    )  # fmt: skip
    assert empty.exit_code == 1 and "has no cases received" in " ".join(empty.output.split())
