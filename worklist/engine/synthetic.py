"""A seeded synthetic snapshot of the six-department region, for tests and benchmarks.

Plausible rather than faithful: department sizes, tumour-group mix, priorities and rosters are
rough shapes of the network, enough to exercise every rule of the engine at realistic scale.
The same seed always gives the same snapshot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from worklist.engine.snapshot import (
    GENERAL,
    CaseSnapshot,
    PathologistSnapshot,
    RuleSet,
    Snapshot,
)
from worklist.enums import Priority
from worklist.workload import WorkloadModel

__all__ = ["DEPARTMENTS", "SUBSPECIALTIES", "SyntheticRegion", "synthetic_snapshot"]

DEPARTMENTS: dict[str, tuple[str, float]] = {
    # name: (accession prefix, relative size)
    "HMC": ("HMC", 1.0),
    "LUMC": ("LUMC", 1.6),
    "Alrijne": ("ALR", 0.6),
    "GHZ": ("GHZ", 0.5),
    "Haga": ("HAGA", 1.0),
    "Reinier de Graaf": ("RDGG", 0.8),
}

SUBSPECIALTIES: dict[str, float] = {
    # tumour group: share of the case mix
    "dermatopathology": 0.24,
    "gastro-intestinal": 0.20,
    "gynaecopathology": 0.10,
    "breast": 0.08,
    "urology": 0.08,
    "lung": 0.06,
    "haematopathology": 0.05,
    "head-and-neck": 0.05,
    "soft-tissue": 0.03,
    "neuropathology": 0.02,
    GENERAL: 0.09,
}

_PRIORITIES = (
    (Priority.FROZEN, 0.01),
    (Priority.URGENT, 0.08),
    (Priority.CANCER_PATHWAY, 0.25),
    (Priority.ROUTINE, 0.66),
)
_CATEGORIES = ((1, 0.18), (2, 0.34), (3, 0.18), (4, 0.14), (5, 0.10), (6, 0.06))
_TRIGGERS = {
    "gastro-intestinal": ("barrett_dysplasia", 0.06),
    "haematopathology": ("new_lymphoma", 0.25),
    "dermatopathology": ("melanoma_uncertain", 0.03),
}


@dataclass(frozen=True, slots=True)
class SyntheticRegion:
    """The knobs of the generator."""

    cases: int = 10_000
    pathologists: int = 200
    assigned_share: float = 0.55
    """Share of the open cases that already have a primary pathologist."""
    present_share: float = 0.85
    seed: int = 20_250_101
    now: datetime = datetime(2025, 3, 12, 8, 0)  # a Wednesday morning


def _pick(rng: random.Random, weighted: tuple[tuple[object, float], ...]) -> object:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def synthetic_snapshot(
    region: SyntheticRegion | None = None,
    *,
    rules: RuleSet | None = None,
    workload: WorkloadModel | None = None,
) -> Snapshot:
    """A snapshot of ``region.cases`` open cases over ``region.pathologists`` pathologists."""
    region = region or SyntheticRegion()
    workload = workload or WorkloadModel()
    rules = rules or RuleSet(
        general_pool_fallback=frozenset({"dermatopathology", "gynaecopathology", "urology"})
    )
    rng = random.Random(region.seed)
    names = list(DEPARTMENTS)
    sizes = [DEPARTMENTS[d][1] for d in names]
    groups = list(SUBSPECIALTIES)
    mix = [SUBSPECIALTIES[g] for g in groups]

    people: list[PathologistSnapshot] = []
    for n in range(region.pathologists):
        department = rng.choices(names, sizes)[0]
        own = set(rng.choices(groups, mix, k=rng.choice((1, 2, 2, 3))))
        if rng.random() < 0.25:
            own.add(GENERAL)
        fte = rng.choice((0.6, 0.8, 0.8, 0.9, 1.0, 1.0, 1.0))
        present = rng.random() < region.present_share
        availability = rng.choice((1.0, 1.0, 1.0, 0.5))
        today = round(rng.uniform(0, 0.3) * workload.minutes_per_fte_day) if present else 0
        people.append(
            PathologistSnapshot(
                pathologist_id=n + 1,
                name=f"Dr. P{n + 1:03d}",
                department=department,
                subspecialties=frozenset(own),
                experienced_in=frozenset(g for g in sorted(own) if rng.random() < 0.4),
                fte=fte,
                max_open_minutes=round(fte * workload.minutes_per_fte_week * 2.0),
                capacity_today_minutes=(
                    workload.daily_capacity_minutes(1.0, availability) if present else 0.0
                ),
                present=present,
                today_minutes=float(today),
            )
        )
    by_group: dict[str, list[int]] = {}
    for i, person in enumerate(people):
        for group in sorted(person.subspecialties):
            by_group.setdefault(group, []).append(i)
    open_minutes = [0.0] * len(people)

    cases: list[CaseSnapshot] = []
    patients = max(1, int(region.cases * 0.85))
    year = region.now.year % 100
    for n in range(region.cases):
        department = rng.choices(names, sizes)[0]
        group = rng.choices(groups, mix)[0]
        priority = _pick(rng, _PRIORITIES)
        assert isinstance(priority, Priority)
        category = _pick(rng, _CATEGORIES)
        assert isinstance(category, int)
        if priority is Priority.FROZEN:
            received = region.now - timedelta(minutes=rng.uniform(0, 30))
            add_on = workload.frozen_section_minutes
        else:
            # Most open cases are a few days old; a tail has aged past its target.
            received = region.now - timedelta(hours=min(0.5 + rng.expovariate(1 / 60), 14 * 24))
            add_on = workload.molecular_minutes_simple if rng.random() < 0.05 else 0.0
        trigger, trigger_share = _TRIGGERS.get(group, ("", 0.0))
        primary: int | None = None
        if rng.random() < region.assigned_share and by_group.get(group):
            i = rng.choice(by_group[group])
            primary = people[i].pathologist_id
            open_minutes[i] += workload.case_minutes(category) + add_on
        cases.append(
            CaseSnapshot(
                case_id=n + 1,
                accession=f"{DEPARTMENTS[department][0]}-T{year:02d}-{n + 1:06d}",
                department=department,
                patient=f"PSN-{rng.randrange(patients):07d}",
                subspecialty=group,
                category=category,
                priority=priority,
                received_at=received,
                due_at=workload.due_time(received, priority),
                primary_pathologist_id=primary,
                second_read_trigger=trigger if rng.random() < trigger_share else None,
                add_on_minutes=add_on,
            )
        )
    pathologists = tuple(
        replace(person, open_minutes=minutes)
        for person, minutes in zip(people, open_minutes, strict=True)
    )
    return Snapshot(region.now, tuple(cases), pathologists, rules, workload)
