"""Who counts where in the capacity report: the region, its departments and its tumour groups.

The rules are :mod:`worklist.capacity.report`'s ("Who counts where"): a department's demand is
the cases it received and its supply its own staff's; a tumour group's supply is a share of
each pathologist who has it as a subspecialty; the region is its departments together (narrowed
to one department: that department).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.capacity.facts import CaseFact, PathologistFact
from worklist.capacity.norm import CapacityNorm
from worklist.capacity.supply import SupplyTable
from worklist.errors import ValidationError
from worklist.models import Case
from worklist.region import default_region

__all__ = [
    "Entity",
    "daily_supply_of",
    "report_entities",
    "share_of",
    "shown_tumour_groups",
    "tumour_group_name",
]


@dataclass
class Entity:
    """The region, a department or a tumour group, and which facts count for it."""

    code: str
    name: str
    kind: str  # "region" | "department" | "tumour_group"
    cases: list[CaseFact]
    """Its cases: demand, work in progress, turnaround."""
    signed_out: list[CaseFact]
    """The cases whose sign-out is its output."""
    staff: dict[str, float]
    """Pathologist code -> the share of their supply that is its supply."""
    budget_fte: float | None


def tumour_group_name(code: str) -> str:
    """A tumour group's display name: ``gastro-intestinal`` -> ``Gastro-intestinal``."""
    name = code.replace("-and-", " and ")
    return name[:1].upper() + name[1:]


def shown_tumour_groups(
    session: Session,
    norm: CapacityNorm,
    people: Sequence[PathologistFact],
    wanted: str | None,
) -> list[str]:
    """The tumour groups the report shows: those of the cases and of the norm."""
    known = set(session.scalars(select(Case.tumour_group).distinct())) | set(norm.tumour_group_fte)
    if wanted is not None:
        subspecialties = {s for p in people for s in p.subspecialties}
        if wanted not in known | subspecialties:
            listed = ", ".join(sorted(known)) or "none"
            raise ValidationError(f"unknown tumour group {wanted!r} (known: {listed})")
        return [wanted]
    return sorted(known)


def report_entities(
    facts: Sequence[CaseFact],
    people: Sequence[PathologistFact],
    names: Mapping[str, str],
    groups: Sequence[str],
    norm: CapacityNorm,
    department: str | None,
    tumour_group: str | None,
    region_name: str | None,
) -> tuple[Entity, list[Entity], list[Entity]]:
    """The region, its departments and its tumour groups, each with the facts that count for it."""
    codes = [department] if department is not None else list(names)
    staff_of: dict[str, dict[str, float]] = {code: {} for code in names}
    for person in people:
        share = share_of(person, tumour_group)
        if person.department_code in staff_of and share > 0:
            staff_of[person.department_code][person.code] = share
    holders_of = {person.code: person.department_code for person in people}
    by_department: dict[str, list[CaseFact]] = {code: [] for code in names}
    signed_by_department: dict[str, list[CaseFact]] = {code: [] for code in names}
    for case in facts:
        by_department.setdefault(case.department_code, []).append(case)
        if case.signed_out_at is not None and case.pathologist_code in holders_of:
            signed_by_department[holders_of[case.pathologist_code]].append(case)
    departments = [
        Entity(
            code=code,
            name=names[code],
            kind="department",
            cases=by_department[code],
            signed_out=signed_by_department[code],
            staff=staff_of[code],
            budget_fte=norm.department_fte.get(code),
        )
        for code in codes
    ]
    if department is not None:
        only = departments[0]
        region_cases, region_signed, region_staff = only.cases, only.signed_out, only.staff
        region_budget = only.budget_fte
    else:
        region_cases = list(facts)
        region_signed = [c for c in facts if c.signed_out_at is not None]
        region_staff = {code: share for staff in staff_of.values() for code, share in staff.items()}
        budgets = [norm.department_fte.get(code) for code in codes]
        region_budget = None if any(b is None for b in budgets) else sum(b or 0.0 for b in budgets)
    whole = region_name if region_name is not None else default_region().name
    if department is not None:
        # Narrowed to a department, the "region" entry holds that department's figures: its
        # name says so, so no page or file shows them under the region's name.
        whole = f"{names[department]} (narrowed from {whole})"
    if tumour_group is not None:
        whole = f"{whole}, {tumour_group_name(tumour_group)} only"
    region = Entity(
        code="region",
        name=whole,
        kind="region",
        cases=region_cases,
        signed_out=region_signed,
        staff=region_staff,
        budget_fte=region_budget,
    )
    tumour_groups = [
        Entity(
            code=group,
            name=tumour_group_name(group),
            kind="tumour_group",
            cases=[c for c in region.cases if c.tumour_group == group],
            signed_out=[c for c in region.signed_out if c.tumour_group == group],
            staff={
                p.code: share_of(p, group)
                for p in people
                if p.code in region.staff and share_of(p, group) > 0
            },
            budget_fte=norm.tumour_group_fte.get(group),
        )
        for group in groups
    ]
    return region, departments, tumour_groups


def share_of(person: PathologistFact, tumour_group: str | None) -> float:
    """The share of a pathologist's supply that serves ``tumour_group`` (None: all of it)."""
    if tumour_group is None:
        return 1.0
    if tumour_group not in person.subspecialties:
        return 0.0
    return 1.0 / len(person.subspecialties)


def daily_supply_of(entity: Entity, table: SupplyTable) -> list[float]:
    """The entity's supply per day of the table."""
    length = (table.stop_day - table.first_day).days
    total = [0.0] * length
    for code, share in entity.staff.items():
        row = table.daily_minutes.get(code)
        if row is None or share == 0:
            continue
        for i, minutes in enumerate(row):
            if minutes:
                total[i] += minutes * share
    return total
