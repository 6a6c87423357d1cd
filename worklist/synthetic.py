"""A seeded synthetic region and case stream, for the demo, tests and benchmarks.

Plausible shapes, not real data: arrivals follow the working week (Monday heaviest, hardly
anything at weekends) and the seasons (summer and Christmas dips), and the case mix follows a
typical Dutch histology/cytology practice by category, tumour group and priority. The same
seed always gives the same output.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from worklist.engine.snapshot import GENERAL
from worklist.enums import CaseType, Priority
from worklist.operations.intake import BlockIntake, CaseIntake, SlideIntake, SpecimenIntake
from worklist.region import DepartmentSpec, PathologistSpec, Region, default_region
from worklist.roster import Absence, Roster

# Department code -> (name, city, relative size).
SITES: dict[str, tuple[str, str, float]] = {
    "HMC": ("Haaglanden Medisch Centrum", "Den Haag", 1.0),
    "LUMC": ("Leids Universitair Medisch Centrum", "Leiden", 1.6),
    "ALR": ("Alrijne Ziekenhuis", "Leiderdorp", 0.6),
    "GHZ": ("Groene Hart Ziekenhuis", "Gouda", 0.5),
    "HAGA": ("HagaZiekenhuis", "Den Haag", 1.0),
    "RDGG": ("Reinier de Graaf Gasthuis", "Delft", 0.8),
}

# Tumour group -> share of the histology case mix.
TUMOUR_GROUPS: dict[str, float] = {
    "dermatopathology": 0.26,
    "gastro-intestinal": 0.22,
    "gynaecopathology": 0.10,
    "breast": 0.08,
    "urology": 0.09,
    "lung": 0.06,
    "haematopathology": 0.05,
    "head-and-neck": 0.05,
    "soft-tissue": 0.03,
    "neuropathology": 0.02,
    GENERAL: 0.04,
}
CYTOLOGY = "cytology"
CYTOLOGY_SHARE = 0.15

# Relative arrivals by weekday (Monday 0) and by month (January 1).
WEEKDAY_FACTOR = (1.18, 1.10, 1.05, 1.00, 0.92, 0.06, 0.03)
MONTH_FACTOR = (1.02, 1.00, 1.05, 0.98, 0.96, 1.00, 0.84, 0.80, 1.04, 1.06, 1.05, 0.88)

_CATEGORY_MIX = {
    CaseType.HISTOLOGY: (0.14, 0.34, 0.18, 0.15, 0.12, 0.07),
    CaseType.CYTOLOGY: (0.40, 0.40, 0.20, 0, 0, 0),
}
_PRIORITY_MIX = (
    (Priority.FROZEN, 0.01),
    (Priority.URGENT, 0.07),
    (Priority.CANCER_PATHWAY, 0.24),
    (Priority.ROUTINE, 0.68),
)
_TRIGGERS = {
    "gastro-intestinal": ("barrett_dysplasia", 0.05),
    "haematopathology": ("new_lymphoma", 0.25),
    "dermatopathology": ("melanoma_uncertain", 0.03),
}
_IHC = ("CD20", "CD3", "Ki-67", "p53", "CK7", "CK20", "ER", "PR", "HER2", "p16", "S100", "SOX10")
_SPECIAL = ("PAS", "Giemsa", "Perls", "Elastica van Gieson")
_FIRST = (
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "I",
    "J",
    "K",
    "L",
    "M",
    "N",
    "P",
    "R",
    "S",
    "T",
    "W",
)
_LAST = (
    "de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
    "Brouwer", "de Wit", "Dijkstra", "van Dijk", "Kaya", "Bouali", "Ramdin", "Hoekstra",
)  # fmt: skip


def synthetic_region(pathologists: int, *, seed: int = 1) -> Region:
    """A region of the six departments with ``pathologists`` generated pathologists.

    Rules (trigger table, general-pool fallback) are the packaged default region's.
    """
    if pathologists < 1:
        raise ValueError(f"a region needs at least one pathologist, got {pathologists}")
    rng = random.Random(seed)
    departments = tuple(DepartmentSpec(code, name, city) for code, (name, city, _) in SITES.items())
    sizes = [SITES[d.code][2] for d in departments]
    groups, group_weights = (
        [*TUMOUR_GROUPS, CYTOLOGY],
        [*TUMOUR_GROUPS.values(), CYTOLOGY_SHARE],
    )
    people: list[PathologistSpec] = []
    counters = dict.fromkeys(SITES, 0)
    for index in range(pathologists):
        # Round-robin over the first six so every department has someone, then by size.
        department = (
            departments[index] if index < len(departments) else rng.choices(departments, sizes)[0]
        )
        counters[department.code] += 1
        subspecialties: list[str] = []
        for _ in range(rng.choice((1, 2, 2, 3))):
            group = rng.choices(groups, group_weights)[0]
            if group not in subspecialties:
                subspecialties.append(group)
        fte = rng.choice((1.0, 1.0, 0.9, 0.8, 0.8, 0.6, 0.5))
        weekdays = range(5) if fte >= 0.9 else sorted(rng.sample(range(5), max(1, round(fte * 5))))
        absences: tuple[Absence, ...] = ()
        if rng.random() < 0.25:
            start = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
            absences = (Absence(start, start + timedelta(days=rng.choice((4, 7, 11, 18)))),)
        people.append(
            PathologistSpec(
                code=f"{department.code}-{counters[department.code]:03d}",
                name=f"dr. {rng.choice(_FIRST)}. {rng.choice(_LAST)}",
                department=department.code,
                subspecialties=tuple(subspecialties),
                fte=fte,
                max_open_minutes=round(fte * 1370 * 1.5),
                roster=Roster(frozenset(weekdays), absences),
                experienced_in=tuple(
                    s for s in subspecialties if s != GENERAL and rng.random() < 0.4
                ),
            )
        )
    return Region(
        name=f"synthetic region ({pathologists} pathologists, seed {seed})",
        departments=departments,
        pathologists=tuple(people),
        rules=default_region().rules,
    )


def case_stream(
    *,
    start: date,
    days: int,
    seed: int = 1,
    cases_per_year: float = 120_000,
    departments: Sequence[str] = tuple(SITES),
    scanned: bool = True,
) -> list[CaseIntake]:
    """Cases arriving over ``days`` days from ``start``, in arrival order.

    ``cases_per_year`` is the region's volume, spread over ``departments`` by their size.
    With ``scanned`` every slide comes with a (synthetic) image path, so the cases enter the
    worklist ready to assign.
    """
    rng = random.Random(seed)
    sizes = {code: SITES.get(code, ("", "", 1.0))[2] for code in departments}
    total_size = sum(sizes.values())
    mean_factor = sum(WEEKDAY_FACTOR) / 7 * sum(MONTH_FACTOR) / 12
    patients: list[str] = []
    stream: list[CaseIntake] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        factor = WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1] / mean_factor
        for code in departments:
            expected = cases_per_year / 365 * sizes[code] / total_size * factor
            arrivals = [_arrival(rng, day) for _ in range(_poisson(rng, expected))]
            for received_at in sorted(arrivals):
                stream.append(_case(rng, code, received_at, patients, scanned))
    stream.sort(key=lambda c: (c.received_at or datetime.min.replace(tzinfo=UTC), c.department))
    return stream


def _arrival(rng: random.Random, day: date) -> datetime:
    # Front offices register between 07:30 and 17:30, most before noon.
    minutes = min(600.0, abs(rng.gauss(150, 130)))
    return datetime.combine(day, time(7, 30), tzinfo=UTC) + timedelta(minutes=minutes)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _case(
    rng: random.Random, department: str, received_at: datetime, patients: list[str], scanned: bool
) -> CaseIntake:
    case_type = CaseType.CYTOLOGY if rng.random() < CYTOLOGY_SHARE else CaseType.HISTOLOGY
    if case_type is CaseType.CYTOLOGY:
        group = CYTOLOGY
    else:
        group = rng.choices(list(TUMOUR_GROUPS), list(TUMOUR_GROUPS.values()))[0]
    category = rng.choices(range(1, 7), _CATEGORY_MIX[case_type])[0]
    priority = rng.choices([p for p, _ in _PRIORITY_MIX], [w for _, w in _PRIORITY_MIX])[0]
    if priority is Priority.FROZEN and case_type is CaseType.CYTOLOGY:
        priority = Priority.URGENT
    trigger = None
    if group in _TRIGGERS and rng.random() < _TRIGGERS[group][1]:
        trigger = _TRIGGERS[group][0]
    # About one case in eight belongs to a patient seen before (continuity).
    if patients and rng.random() < 0.12:
        patient = rng.choice(patients[-500:])
    else:
        patient = f"PSN-{rng.getrandbits(48):012x}"
        patients.append(patient)
    return CaseIntake(
        department=department,
        patient_pseudonym=patient,
        tumour_group=group,
        category=category,
        priority=priority,
        case_type=case_type,
        received_at=received_at,
        second_read_trigger=trigger,
        specimens=_material(rng, category, case_type, scanned),
    )


def _material(
    rng: random.Random, category: int, case_type: CaseType, scanned: bool
) -> tuple[SpecimenIntake, ...]:
    specimen_count = 1 if case_type is CaseType.CYTOLOGY else rng.choice((1, 1, 1, 2, 2, 3))
    blocks_per_specimen = 1 if category <= 2 else min(12, rng.randint(1, category * 2))
    specimens = []
    for s in range(specimen_count):
        label = chr(ord("A") + s)
        blocks = []
        for b in range(1, blocks_per_specimen + 1):
            stains = ["H&E"]
            if rng.random() < 0.15 * category:
                stains.append(rng.choice(_IHC))
            if rng.random() < 0.05:
                stains.append(rng.choice(_SPECIAL))
            slides = tuple(
                SlideIntake(stain, f"scans/{label}{b}-{n}.svs" if scanned else None)
                for n, stain in enumerate(stains, start=1)
            )
            blocks.append(BlockIntake(f"{label}{b}", slides))
        specimens.append(SpecimenIntake(label, blocks=tuple(blocks)))
    return tuple(specimens)
