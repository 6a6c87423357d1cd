"""Fixtures for the worklist tests: a fresh database per test, on SQLite and on PostgreSQL.

SQLite: a new file in ``tmp_path``. PostgreSQL (when ``COUPE_TEST_DATABASE_URL`` is set): a new
schema per test, created and dropped around it. In CI (``CI=true``) a missing or unreachable
PostgreSQL fails the PostgreSQL tests instead of skipping them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tests.postgres_support import postgres_schema
from worklist.actor import Actor
from worklist.db import default_database_url, make_engine
from worklist.enums import Priority, Role
from worklist.migrate import upgrade_database
from worklist.operations import BlockIntake, CaseIntake, SlideIntake, SpecimenIntake, intake_cases
from worklist.region import parse_region
from worklist.seeding import ImportSummary, import_region

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

SMALL_REGION = """
[region]
name = "test region"

[rules]
general_pool_fallback = ["dermatopathology"]

[[rules.second_read]]
subspecialty = "gastro-intestinal"
trigger = "barrett_dysplasia"
experienced_in = "gastro-intestinal"

[[departments]]
code = "HMC"
name = "Haaglanden Medisch Centrum"
city = "Den Haag"

[[departments]]
code = "LUMC"
name = "Leids Universitair Medisch Centrum"
city = "Leiden"

[[pathologists]]
code = "HMC-01"
name = "dr. A. de Vries"
department = "HMC"
subspecialties = ["gastro-intestinal", "dermatopathology"]
experienced_in = ["gastro-intestinal"]
fte = 1.0
max_open_minutes = 2000

[[pathologists]]
code = "HMC-02"
name = "dr. B. Jansen"
department = "HMC"
subspecialties = ["dermatopathology"]
fte = 0.8
max_open_minutes = 1600
working_days = ["mon", "tue", "thu", "fri"]

[[pathologists]]
code = "LUMC-01"
name = "dr. C. Bakker"
department = "LUMC"
subspecialties = ["gastro-intestinal", "haematopathology"]
experienced_in = ["gastro-intestinal"]
fte = 0.9
max_open_minutes = 1800
absences = [{ starts_on = 2025-07-21, ends_on = 2025-08-08, reason = "leave" }]
"""

MANAGER = Actor(user_id="manager", role=Role.LAB_MANAGER, site="HMC", purpose_of_use="operations")
PATHOLOGIST = Actor(user_id="patholoog", role=Role.PATHOLOGIST, site="HMC")
NOW = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A URL of a fresh, empty database of the parametrised backend."""
    if request.param == "sqlite":
        yield default_database_url(tmp_path)  # type: ignore[arg-type]
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database."""
    upgrade_database(database_url)
    engine = make_engine(database_url, pool_size=40)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def region_ids(engine: Engine) -> ImportSummary:
    """The small test region, imported."""
    region = parse_region(SMALL_REGION, source="small-region.toml")
    return import_region(engine=engine, actor=Actor.system(), region=region)


@dataclass(frozen=True)
class Factory:
    """Makes cases for a test."""

    engine: Engine

    def cases(
        self,
        count: int = 1,
        *,
        department: str = "HMC",
        tumour_group: str = "gastro-intestinal",
        scanned: bool = True,
        priority: Priority = Priority.ROUTINE,
        trigger: str | None = None,
    ) -> list[int]:
        requests = [
            CaseIntake(
                department=department,
                patient_pseudonym=f"PSN-{i:06d}",
                tumour_group=tumour_group,
                category=2,
                priority=priority,
                received_at=NOW,
                second_read_trigger=trigger,
                specimens=(
                    SpecimenIntake(
                        "A",
                        blocks=(
                            BlockIntake(
                                "A1", (SlideIntake("H&E", "scans/a1.svs" if scanned else None),)
                            ),
                        ),
                    ),
                ),
            )
            for i in range(count)
        ]
        states = intake_cases(engine=self.engine, actor=MANAGER, cases=requests, now=NOW)
        return [s.case_id for s in states]


@pytest.fixture
def factory(engine: Engine, region_ids: ImportSummary) -> Factory:
    """A case factory on the test database (the small region imported)."""
    return Factory(engine)
