"""Region files (TOML): the departments, their pathologists, and the assignment rules.

Errors name the file and the key (``pathologists[3].fte``), with the line where it can be found,
because the people who edit these files are lab managers, not programmers. See
``worklist/data/default_region.toml`` for the format.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from worklist.engine.snapshot import RuleSet, SecondReadRule
from worklist.errors import RegionFileError, ValidationError
from worklist.roster import Absence, Roster, parse_working_days

_CODE = re.compile(r"^[A-Z][A-Z0-9-]{1,31}$")


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    """A department as the region file describes it."""

    code: str
    name: str
    city: str


@dataclass(frozen=True, slots=True)
class PathologistSpec:
    """A pathologist as the region file describes it."""

    code: str
    name: str
    department: str
    subspecialties: tuple[str, ...]
    fte: float
    max_open_minutes: float
    roster: Roster
    experienced_in: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Region:
    """Departments, pathologists and rules of one region."""

    name: str
    departments: tuple[DepartmentSpec, ...]
    pathologists: tuple[PathologistSpec, ...]
    rules: RuleSet = field(default_factory=RuleSet)

    def department(self, code: str) -> DepartmentSpec:
        """The department with ``code``."""
        for department in self.departments:
            if department.code == code:
                return department
        raise LookupError(f"region {self.name!r} has no department {code!r}")


def default_region_path() -> Path:
    """Where the packaged six-department region lives."""
    return Path(str(resources.files("worklist") / "data" / "default_region.toml"))


def default_region() -> Region:
    """The packaged region: the six departments of the network and their pathologists."""
    return load_region(default_region_path())


def load_region(path: Path) -> Region:
    """Read and validate a region file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RegionFileError(f"{path}: cannot read the region file: {exc.strerror}") from exc
    return parse_region(text, source=str(path))


def parse_region(text: str, *, source: str = "<region>") -> Region:
    """Parse region TOML; ``source`` names the file in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegionFileError(f"{source}: not valid TOML: {exc}") from exc
    return _Parser(text, source).region(document)


class _Parser:
    """Validation with a cursor: every error knows the file, the key and, if it can, the line."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def fail(self, key: str, message: str, near: str | None = None) -> RegionFileError:
        line = self._line_of(near) if near else None
        where = f"{self.source}:{line}" if line else self.source
        return RegionFileError(f"{where}: {key}: {message}")

    def _line_of(self, needle: str) -> int | None:
        for number, line in enumerate(self.lines, start=1):
            if needle in line:
                return number
        return None

    # -- typed getters -------------------------------------------------------------------

    def table(self, node: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = node.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{path}{key}", "expected a table")
        return value

    def items(self, node: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
        value = node.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(f"{path}{key}", f"expected an array of tables ([[{path}{key}]])")
        return value

    def string(self, node: Mapping[str, Any], key: str, path: str, near: str | None = None) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{path}.{key}", f"expected a non-empty string, got {value!r}", near)
        return value.strip()

    def number(
        self, node: Mapping[str, Any], key: str, path: str, low: float, high: float, near: str
    ) -> float:
        value = node.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{path}.{key}", f"expected a number, got {value!r}", near)
        if not low < value <= high:
            raise self.fail(f"{path}.{key}", f"must lie in ({low}, {high}], got {value}", near)
        return float(value)

    def strings(
        self, node: Mapping[str, Any], key: str, path: str, near: str | None = None
    ) -> tuple[str, ...]:
        value = node.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{path}.{key}", f"expected a list of strings, got {value!r}", near)
        return tuple(value)

    def only_keys(self, node: Mapping[str, Any], allowed: set[str], path: str, near: str) -> None:
        unknown = sorted(set(node) - allowed)
        if unknown:
            raise self.fail(
                f"{path}.{unknown[0]}",
                f"unknown key (expected one of {', '.join(sorted(allowed))})",
                near,
            )

    # -- sections ------------------------------------------------------------------------

    def region(self, document: Mapping[str, Any]) -> Region:
        self.only_keys(document, {"region", "rules", "departments", "pathologists"}, "$", "")
        header = self.table(document, "region", "")
        name = self.string(header, "name", "region", "[region]")
        departments = self.departments(self.items(document, "departments", ""))
        codes = {d.code for d in departments}
        pathologists = self.pathologists(self.items(document, "pathologists", ""), codes)
        rules = self.rules(self.table(document, "rules", ""))
        return Region(name, departments, pathologists, rules)

    def departments(self, nodes: Sequence[Mapping[str, Any]]) -> tuple[DepartmentSpec, ...]:
        if not nodes:
            raise self.fail("departments", "a region needs at least one [[departments]] entry")
        result: list[DepartmentSpec] = []
        for i, node in enumerate(nodes):
            path = f"departments[{i}]"
            code = self.string(node, "code", path, "[[departments]]")
            near = f'"{code}"'
            self.only_keys(node, {"code", "name", "city"}, path, near)
            if not _CODE.match(code):
                raise self.fail(f"{path}.code", f"{code!r} is not an upper-case site code", near)
            if code in {d.code for d in result}:
                raise self.fail(f"{path}.code", f"department {code!r} appears twice", near)
            result.append(
                DepartmentSpec(code, self.string(node, "name", path, near), node.get("city", ""))
            )
        return tuple(result)

    def pathologists(
        self, nodes: Sequence[Mapping[str, Any]], departments: set[str]
    ) -> tuple[PathologistSpec, ...]:
        result: list[PathologistSpec] = []
        allowed = {
            "code",
            "name",
            "department",
            "subspecialties",
            "experienced_in",
            "fte",
            "max_open_minutes",
            "working_days",
            "absences",
        }
        for i, node in enumerate(nodes):
            path = f"pathologists[{i}]"
            code = self.string(node, "code", path, "[[pathologists]]")
            path = f"pathologists[{i}] ({code})"
            near = f'code = "{code}"'
            self.only_keys(node, allowed, path, near)
            if code in {p.code for p in result}:
                raise self.fail(f"{path}.code", f"pathologist {code!r} appears twice", near)
            department = self.string(node, "department", path, near)
            if department not in departments:
                raise self.fail(
                    f"{path}.department",
                    f"no department {department!r} (known: {', '.join(sorted(departments))})",
                    near,
                )
            subspecialties = self.strings(node, "subspecialties", path, near)
            if not subspecialties:
                raise self.fail(f"{path}.subspecialties", "needs at least one subspecialty", near)
            experienced = self.strings(node, "experienced_in", path, near)
            stray = sorted(set(experienced) - set(subspecialties))
            if stray:
                raise self.fail(
                    f"{path}.experienced_in", f"{stray[0]!r} is not one of the subspecialties", near
                )
            result.append(
                PathologistSpec(
                    code=code,
                    name=self.string(node, "name", path, near),
                    department=department,
                    subspecialties=subspecialties,
                    fte=self.number(node, "fte", path, 0.0, 1.5, near),
                    max_open_minutes=self.number(node, "max_open_minutes", path, 0.0, 1e6, near),
                    roster=self.roster(node, path, near),
                    experienced_in=experienced,
                )
            )
        return tuple(result)

    def roster(self, node: Mapping[str, Any], path: str, near: str) -> Roster:
        days = node.get("working_days", ["mon", "tue", "wed", "thu", "fri"])
        if not isinstance(days, list):
            raise self.fail(f"{path}.working_days", 'expected a list like ["mon", "tue"]', near)
        try:
            weekdays = parse_working_days(days)
        except ValidationError as exc:
            raise self.fail(f"{path}.working_days", str(exc), near) from exc
        absences: list[Absence] = []
        for j, entry in enumerate(self.items(node, "absences", f"{path}.")):
            where = f"{path}.absences[{j}]"
            self.only_keys(entry, {"starts_on", "ends_on", "reason"}, where, near)
            starts, ends = entry.get("starts_on"), entry.get("ends_on")
            if not isinstance(starts, date) or not isinstance(ends, date):
                raise self.fail(where, "starts_on and ends_on must be dates (2025-07-21)", near)
            try:
                absences.append(Absence(starts, ends, str(entry.get("reason", "leave"))))
            except ValidationError as exc:
                raise self.fail(where, str(exc), near) from exc
        return Roster(weekdays, tuple(absences))

    def rules(self, node: Mapping[str, Any]) -> RuleSet:
        allowed = {
            "general_pool_fallback",
            "escalation_horizon_hours",
            "pull_threshold",
            "second_read",
        }
        self.only_keys(node, allowed, "rules", "[rules]")
        second_reads: list[SecondReadRule] = []
        for i, entry in enumerate(self.items(node, "second_read", "rules.")):
            path = f"rules.second_read[{i}]"
            trigger = self.string(entry, "trigger", path, "[[rules.second_read]]")
            near = f'"{trigger}"'
            self.only_keys(
                entry,
                {"subspecialty", "trigger", "label", "reviewers", "experienced_in"},
                path,
                near,
            )
            reviewers = entry.get("reviewers", 1)
            if not isinstance(reviewers, int) or isinstance(reviewers, bool):
                raise self.fail(
                    f"{path}.reviewers", f"expected a whole number, got {reviewers!r}", near
                )
            experienced = entry.get("experienced_in")
            if experienced is not None and not isinstance(experienced, str):
                raise self.fail(f"{path}.experienced_in", "expected a subspecialty name", near)
            try:
                second_reads.append(
                    SecondReadRule(
                        subspecialty=self.string(entry, "subspecialty", path, near),
                        trigger=trigger,
                        label=str(entry.get("label", trigger.replace("_", " "))),
                        reviewers=reviewers,
                        experienced_in=experienced,
                    )
                )
            except ValidationError as exc:
                raise self.fail(path, str(exc), near) from exc
        horizon = node.get("escalation_horizon_hours", 24)
        pull = node.get("pull_threshold", 0.5)
        for key, value in (("escalation_horizon_hours", horizon), ("pull_threshold", pull)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise self.fail(f"rules.{key}", f"expected a non-negative number, got {value!r}")
        try:
            return RuleSet(
                general_pool_fallback=frozenset(
                    self.strings(node, "general_pool_fallback", "rules", "general_pool_fallback")
                ),
                second_reads=tuple(second_reads),
                escalation_horizon=timedelta(hours=float(horizon)),
                pull_threshold=float(pull),
            )
        except ValidationError as exc:
            raise self.fail("rules", str(exc), "[rules]") from exc
