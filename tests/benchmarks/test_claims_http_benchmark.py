"""The HTTP claim benchmark: how it judges a run, and a quick run end to end on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import claims_http as bench

GOOD = {
    "claims_per_s": 250.0,
    "p99_ms": 400.0,
    "errors": 0,
    "unclaimed": 0,
    "double_assignments": 0,
}


def test_a_run_meets_its_target_only_when_fast_enough_and_correct() -> None:
    target = bench.TARGETS["sqlite"]
    assert bench.met(GOOD, target)
    assert not bench.met({**GOOD, "claims_per_s": 199.0}, target)
    assert not bench.met({**GOOD, "p99_ms": 500.0}, target)
    assert not bench.met({**GOOD, "double_assignments": 1}, target)
    assert not bench.met({**GOOD, "unclaimed": 1}, target)
    assert not bench.met({**GOOD, "errors": 1}, target)


def test_the_reported_run_is_the_round_with_the_median_rate() -> None:
    rounds = [
        {**GOOD, "claims_per_s": 230.0, "p99_ms": 300.0, "round": 1},
        {**GOOD, "claims_per_s": 190.0, "p99_ms": 450.0, "round": 2},
        {**GOOD, "claims_per_s": 210.0, "p99_ms": 280.0, "round": 3},
    ]
    middle = bench.median_run(rounds)
    assert (middle["round"], middle["claims_per_s"], middle["p99_ms"]) == (3, 210.0, 280.0)
    assert middle["rounds"] == 3
    assert middle["claims_per_s_range"] == [190.0, 230.0]
    assert middle["p99_ms_range"] == [280.0, 450.0]


def test_the_server_runs_as_coupe_serve_does_with_two_processes() -> None:
    command = bench.server_command(8123)
    assert command[command.index("--workers") + 1] == "2"
    assert "--no-access-log" in command and command[command.index("--port") + 1] == "8123"


@pytest.mark.slow
def test_a_quick_run_claims_every_case_once_and_leaves_a_sealed_chain(tmp_path: Path) -> None:
    out = tmp_path / "results"

    assert bench.main(["--quick", "--backends", "sqlite", "--out", str(out)]) == 0

    report = json.loads((out / "claims_http.json").read_text())
    [run] = report["runs"]
    assert [r["round"] for r in report["rounds"]] == [1]  # a quick run has one round
    assert run["backend"] == "sqlite" and run["claims"] == report["cases"] == 40
    assert run["errors"] == 0 and run["unclaimed"] == 0 and run["double_assignments"] == 0
    assert run["audit_chain_ok"] and run["audit_unsealed"] == 0
    assert run["p99_ms"] >= run["p50_ms"] > 0 and run["server_cpu_ms_per_claim"] > 0
    assert "| sqlite | 40 | 0 |" in (out / "claims_http.md").read_text()
