"""The capacity norm from configuration: targets, budgeted FTE, clear errors for bad files."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from worklist.capacity.norm import (
    CapacityNorm,
    NormFileError,
    budget_minutes,
    load_norm,
    parse_norm,
    percentile_target_days,
    share_within_days,
    target_label,
)
from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.region import default_region
from worklist.workload import TatTarget, TatUnit, WorkloadModel


def test_the_default_norm_budgets_every_department_plausibly() -> None:
    norm = load_norm()
    staff: dict[str, float] = defaultdict(float)
    for person in default_region().pathologists:
        staff[person.department] += person.fte
    assert set(norm.department_fte) == set(staff)
    for code, fte in staff.items():
        # A budget is the formation: near the staff, a vacancy below at most.
        assert 0.85 * fte <= norm.department_fte[code] <= 1.05 * fte, code
    assert norm.region_fte() == pytest.approx(sum(norm.department_fte.values()))
    assert norm.target_utilisation == 0.85
    assert norm.target_backlog_days == 3.0
    assert norm.tumour_group_fte["gastro-intestinal"] > 0


def test_tat_norms_come_from_the_workload_model() -> None:
    model = WorkloadModel()
    assert percentile_target_days(model, 0.8) == 7
    assert percentile_target_days(model, 0.9) == 10
    assert percentile_target_days(model, 0.5) is None
    stricter = WorkloadModel(
        tat_targets={
            **model.tat_targets,
            Priority.ROUTINE: (TatTarget(5, TatUnit.CALENDAR_DAYS, share=0.8),),
        }
    )
    assert percentile_target_days(stricter, 0.8) == 5


def test_budget_minutes() -> None:
    model = WorkloadModel()
    assert budget_minutes(2.0, 1.0, model) == pytest.approx(2 * 63_000 / 46)
    assert budget_minutes(1.0, 30 / 7, model) == pytest.approx(63_000 / 46 * 30 / 7)
    assert budget_minutes(None, 1.0, model) is None


def test_a_norm_file_overrides_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "norm.toml"
    path.write_text(
        "[targets]\nutilisation = 0.9\n\n[departments]\nHMC = 6\n\n[tumour_groups]\nlung = 1.5\n",
        encoding="utf-8",
    )
    norm = load_norm(path)
    assert norm == CapacityNorm(
        target_utilisation=0.9,
        department_fte={"HMC": 6.0},
        tumour_group_fte={"lung": 1.5},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[targets\n", "not valid TOML"),
        ("[budget]\nHMC = 1\n", "unknown section"),
        ("[targets]\nutilization = 0.8\n", "unknown key"),
        ("[targets]\nutilisation = 'high'\n", "targets.utilisation: expected a number"),
        ("[targets]\nutilisation = 3\n", "targets.utilisation: must lie in"),
        ("[targets]\npct_within_target = 120\n", "must lie in"),
        ("[departments]\nHMC = -1\n", "departments.HMC: must lie in"),
        ("[departments]\nHMC = true\n", "departments.HMC: expected a number"),
        ("departments = 3\n", "departments: expected a table"),
    ],
)
def test_bad_norm_files_are_named_errors(text: str, message: str) -> None:
    with pytest.raises(NormFileError, match=message) as caught:
        parse_norm(text, source="bad.toml")
    assert str(caught.value).startswith("bad.toml: ")
    assert isinstance(caught.value, ValidationError)


def test_a_missing_norm_file(tmp_path: Path) -> None:
    with pytest.raises(NormFileError, match="cannot read the norm file"):
        load_norm(tmp_path / "nothing.toml")


def test_shares_and_labels_of_the_targets() -> None:
    model = WorkloadModel()
    assert share_within_days(model, 7) == 80
    assert share_within_days(model, 10) == 90
    assert share_within_days(model, 5) is None
    assert [target_label(t) for t in model.tat_targets[Priority.ROUTINE]] == [
        "80% within 7 calendar days",
        "90% within 10 calendar days",
    ]
    assert target_label(model.due_target(Priority.URGENT)) == "2 working days"
    assert target_label(model.due_target(Priority.FROZEN)) == "20 minutes"
