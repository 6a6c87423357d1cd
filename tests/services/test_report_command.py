"""``coupe report`` run as a lab manager would: each format written and read back, standard
output, and the errors (a bad period, an unknown department, a path that cannot be written)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from services.cli import build_cli
from tests.worklist.capacity.conftest import CaseRows, utc
from tests.worklist.conftest import database_url, engine, region_ids  # noqa: F401 - fixtures
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
from worklist.seeding import ImportSummary

TODAY = "2026-12-02"
runner = CliRunner()


@pytest.fixture
def environment(
    engine: Engine,  # noqa: F811 - pytest's fixture injection
    region_ids: ImportSummary,  # noqa: F811
    database_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Engine:
    """The small region with routine cases on the weekdays of ten weeks before 2026-W47 and of W47
    (HMC every day, LUMC every other), and two cases of its own in W47."""
    monkeypatch.setenv("COUPE_DATABASE_URL", database_url)
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "240")
    rows = CaseRows(engine, region_ids)
    first = date(2026, 9, 7)  # a Monday: ten weeks before 2026-W47, and W47 itself
    weekdays = [
        first + timedelta(days=d) for d in range(75) if (first + timedelta(days=d)).weekday() < 5
    ]
    rows.add_many([utc(d.year, d.month, d.day) for d in weekdays], signed_after=timedelta(days=3))
    rows.add_many(
        [utc(d.year, d.month, d.day, 10) for d in weekdays[::2]],
        department="LUMC",
        tumour_group="haematopathology",
        signed_after=timedelta(days=9),
    )
    rows.add(received_at=utc(2026, 11, 17), pathologist="HMC-01")  # in progress
    rows.add(
        received_at=utc(2026, 11, 16),
        signed_out_at=utc(2026, 11, 19),
        pathologist="HMC-02",
        department="HMC",
    )
    return engine


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(build_cli(), ["report", *args])


def test_json_is_capacity_report(environment: Engine, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    done = _run(
        "--period", "2026-W47", "--format", "json", "--output", str(target), "--today", TODAY
    )
    assert done.exit_code == 0, done.output
    assert f"wrote {target} (json" in done.output
    assert "2026-W47, " in done.output and "utilisation" in done.output
    with Session(environment) as session:
        expected = capacity_report(session, parse_period("2026-W47"), today=date(2026, 12, 2))
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written == expected
    assert [d["code"] for d in written["departments"]] == ["HMC", "LUMC"]
    # W47: five HMC weekdays, LUMC every other weekday (3), the two cases added by hand
    assert written["region"]["demand_cases"]["realisation"] == 5 + 3 + 2


def test_html_csv_and_xlsx_files(environment: Engine, tmp_path: Path) -> None:
    for output_format in ("html", "csv", "xlsx"):
        target = tmp_path / f"report.{output_format}"
        done = _run(
            "--period", "2026-11", "--format", output_format, "--output", str(target),
            "--today", TODAY,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert target.stat().st_size > 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4
    assert "Capacity report 2026-11" in page
    text = (tmp_path / "report.csv").read_text(encoding="utf-8")
    metrics = [row for row in csv.reader(io.StringIO(text)) if row and row[0] == "metrics"]
    assert metrics and metrics[0][1:4] == ["region", "region", metrics[0][3]]
    book = load_workbook(tmp_path / "report.xlsx")
    assert "metrics" in book.sheetnames and "weekly" in book.sheetnames
    demand = book["metrics"].cell(row=2, column=7).value
    assert isinstance(demand, int | float) and demand > 0


def test_narrowed_to_a_department_and_to_standard_output(environment: Engine) -> None:
    done = _run(
        "--period", "2026-W47", "--department", "LUMC", "--format", "json", "--output", "-",
        "--today", TODAY,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    # The summary line goes to standard error; standard output is the file alone.
    body = json.loads(done.stdout)
    assert [d["code"] for d in body["departments"]] == ["LUMC"]
    assert "2026-W47" in done.stderr
    csv_done = _run("--period", "2026-W47", "--format", "csv", "-o", "-", "--today", TODAY)
    assert csv_done.exit_code == 0 and csv_done.stdout.startswith("table,line,text\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-W99"], "2026-W99"),
        (["--period", "next week"], "next week"),
        (["--period", "2026-W47", "--department", "XYZ"], "unknown department 'XYZ'"),
        (["--period", "2026-W47", "--tumour-group", "nonsense"], "unknown tumour group"),
        (["--period", "2026-W47", "--today", "yesterday"], "--today 'yesterday'"),
        (["--period", "2026-W47", "--format", "xlsx", "--output", "-"], "binary"),
    ],
)
def test_errors_are_one_clear_line(
    environment: Engine, tmp_path: Path, args: list[str], message: str
) -> None:
    if "--output" not in args:
        args = [*args, "--output", str(tmp_path / "out.html")]
    done = _run(*args)
    assert done.exit_code == 1, done.output
    assert "error:" in done.output and message in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "out.html").exists()


def test_a_path_that_cannot_be_written(environment: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "r.html"
    done = _run("--period", "2026-W47", "--output", str(missing))
    assert done.exit_code == 1 and "does not exist" in done.output
    done = _run("--period", "2026-W47", "--output", str(tmp_path))
    assert done.exit_code == 1 and "is a folder" in done.output
    if os.geteuid() == 0:
        # Root may write anywhere permissions say no: /proc refuses new files even to root.
        done = _run("--period", "2026-W47", "--today", TODAY, "--output", "/proc/r.html")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            done = _run("--period", "2026-W47", "--output", str(locked / "r.html"))
        finally:
            locked.chmod(0o700)
    assert done.exit_code == 1, done.output
    assert "permission denied" in done.output or "cannot write" in done.output
    assert "Traceback" not in done.output


def test_a_database_not_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUPE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    done = _run("--period", "2026-W47", "--output", str(tmp_path / "r.html"))
    assert done.exit_code == 1 and "coupe db upgrade" in done.output


def test_a_norm_file_of_ones_own(environment: Engine, tmp_path: Path) -> None:
    norm = tmp_path / "norm.toml"
    norm.write_text(
        "[targets]\nutilisation = 0.7\nbacklog_days = 2.0\npct_within_target = 95.0\n"
        "[departments]\nHMC = 2.0\nLUMC = 1.0\n[tumour_groups]\n",
        encoding="utf-8",
    )
    target = tmp_path / "report.json"
    args = ["--period", "2026-W47", "--format", "json", "--today", TODAY]
    done = _run(*args, "--output", str(target), "--norm", str(norm))
    assert done.exit_code == 0, done.output
    region = json.loads(target.read_text(encoding="utf-8"))["region"]
    assert region["utilisation"]["norm"] == 0.7 and region["backlog_days"]["norm"] == 2.0

    norm.write_text("[targets]\nutilisation = 'high'\n", encoding="utf-8")
    refused = _run(*args, "--output", str(tmp_path / "other.json"), "--norm", str(norm))
    assert refused.exit_code == 1 and "error:" in refused.output and str(norm) in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "other.json").exists()


def test_an_error_shows_what_was_typed_as_text(environment: Engine, tmp_path: Path) -> None:
    # Rich markup in a user's input is printed, not interpreted (or dropped).
    out = str(tmp_path / "out.html")
    done = _run("--period", "2026-W47", "--department", "[bold]X[/bold]", "--output", out)
    assert done.exit_code == 1 and "unknown department '[bold]X[/bold]'" in done.output
