"""The capacity norm: the budget and targets realisation and forecast are held against.

The norm is configuration (``worklist/data/default_norm.toml`` by default): the target
utilisation, the target backlog in days of supply, the target share of cases signed out by their
due time, and the budgeted FTE per department and per tumour group. The turnaround targets are
the workload model's (:class:`worklist.workload.WorkloadModel`), so they are configured once:
:func:`percentile_target_days` reads the routine targets (80% within 7, 90% within 10 calendar
days by default) as the norm of P80 and P90.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.workload import TatTarget, TatUnit, WorkloadModel

__all__ = [
    "CapacityNorm",
    "NormFileError",
    "budget_minutes",
    "default_norm_path",
    "load_norm",
    "parse_norm",
    "percentile_target_days",
    "share_within_days",
    "target_label",
]

_SECTIONS = frozenset({"targets", "departments", "tumour_groups"})
_TARGETS = {
    # key -> (lowest allowed, highest allowed)
    "utilisation": (0.0, 1.5),
    "backlog_days": (0.0, 60.0),
    "pct_within_target": (0.0, 100.0),
}


class NormFileError(ValidationError):
    """A norm file cannot be read; the message names the file and the key."""


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CapacityNorm:
    """Targets and the budgeted FTE per department and tumour group."""

    target_utilisation: float = 0.85
    target_backlog_days: float = 3.0
    target_pct_within_target: float = 90.0
    department_fte: Mapping[str, float] = field(default_factory=_empty)
    tumour_group_fte: Mapping[str, float] = field(default_factory=_empty)

    def region_fte(self) -> float:
        """The region's budget: the sum of its departments'."""
        return sum(self.department_fte.values())


def budget_minutes(fte: float | None, weeks: float, model: WorkloadModel) -> float | None:
    """Budgeted capacity: ``fte`` x minutes per FTE week x ``weeks``; None without a budget."""
    if fte is None:
        return None
    return fte * model.minutes_per_fte_week * weeks


def percentile_target_days(model: WorkloadModel, share: float) -> float | None:
    """The routine calendar-day target for ``share`` of the cases (0.8 -> 7 days), if any."""
    for target in model.tat_targets[Priority.ROUTINE]:
        if target.unit is TatUnit.CALENDAR_DAYS and abs(target.share - share) < 1e-9:
            return target.amount
    return None


def share_within_days(model: WorkloadModel, days: float) -> float | None:
    """The norm of "% within ``days``": the routine target's share for that many days."""
    for target in model.tat_targets[Priority.ROUTINE]:
        if target.unit is TatUnit.CALENDAR_DAYS and target.amount == days:
            return target.share * 100
    return None


def target_label(target: TatTarget) -> str:
    """A target in words: ``80% within 7 calendar days``, ``2 working days``."""
    units = {
        TatUnit.MINUTES: "minutes",
        TatUnit.WORKING_DAYS: "working days",
        TatUnit.CALENDAR_DAYS: "calendar days",
    }
    share = f"{target.share * 100:g}% within " if target.share < 1 else ""
    return f"{share}{target.amount:g} {units[target.unit]}"


def default_norm_path() -> Path:
    """Where the packaged norm of the default region lives."""
    return Path(str(resources.files("worklist") / "data" / "default_norm.toml"))


def load_norm(path: Path | str | None = None) -> CapacityNorm:
    """Read and check a norm file; ``None`` reads the packaged default."""
    path = Path(path) if path is not None else default_norm_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NormFileError(f"{path}: cannot read the norm file: {exc.strerror}") from exc
    return parse_norm(text, source=str(path))


def parse_norm(text: str, *, source: str = "<norm>") -> CapacityNorm:
    """Parse norm TOML; ``source`` names the file in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NormFileError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - _SECTIONS)
    if unknown:
        raise NormFileError(
            f"{source}: unknown section(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(_SECTIONS))}"
        )
    targets = _table(document, "targets", source)
    unknown = sorted(set(targets) - set(_TARGETS))
    if unknown:
        raise NormFileError(f"{source}: targets: unknown key(s) {', '.join(unknown)}")
    values = {
        key: _number(targets[key], f"targets.{key}", source, low, high)
        for key, (low, high) in _TARGETS.items()
        if key in targets
    }
    defaults = CapacityNorm()
    return CapacityNorm(
        target_utilisation=values.get("utilisation", defaults.target_utilisation),
        target_backlog_days=values.get("backlog_days", defaults.target_backlog_days),
        target_pct_within_target=values.get("pct_within_target", defaults.target_pct_within_target),
        department_fte=_fte_table(document, "departments", source),
        tumour_group_fte=_fte_table(document, "tumour_groups", source),
    )


def _table(document: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise NormFileError(f"{source}: {key}: expected a table ([{key}])")
    return value


def _fte_table(document: Mapping[str, Any], key: str, source: str) -> Mapping[str, float]:
    table = _table(document, key, source)
    return MappingProxyType(
        {name: _number(value, f"{key}.{name}", source, 0.0, 500.0) for name, value in table.items()}
    )


def _number(value: object, key: str, source: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NormFileError(f"{source}: {key}: expected a number, got {value!r}")
    if not low <= value <= high:
        raise NormFileError(f"{source}: {key}: must lie in [{low}, {high}], got {value}")
    return float(value)
