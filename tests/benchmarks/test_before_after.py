from __future__ import annotations

from benchmarks.before_after import _median_table, markdown


def test_medians_are_taken_per_scenario_and_metric() -> None:
    rounds = [
        {"pre-built (coupe)": {"p99_ms": 40.0, "tiles_per_s": 1900.0}},
        {"pre-built (coupe)": {"p99_ms": 50.0, "tiles_per_s": 1500.0}},
        {"pre-built (coupe)": {"p99_ms": 44.0, "tiles_per_s": 1700.0}},
    ]
    assert _median_table(rounds) == {"pre-built (coupe)": {"p99_ms": 44.0, "tiles_per_s": 1700.0}}


def test_the_table_shows_medians_and_the_ratio_head_to_base() -> None:
    report = {
        "base": "a" * 40,
        "head": "b" * 40,
        "head_dirty": True,
        "tiling": {"16000x12000": {"median_s": {"base": 4.0, "head": 3.0}}},
        "serving": {
            "pre-built (coupe)": {"base": {"p99_ms": 40.0}, "head": {"p99_ms": 42.0}},
        },
    }

    table = markdown(report)

    assert table.startswith("# Before and after: aaaaaaaaaaaa -> bbbbbbbbbbbb (+ uncommitted")
    assert "| tiling 16000x12000, wall s | 4.00 | 3.00 | 0.750 |" in table
    assert "| serving p99 pre-built (coupe), ms | 40.0 | 42.0 | 1.050 |" in table
