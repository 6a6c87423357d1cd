"""Fixtures for the capacity tests: cases written straight into a test database.

The cases are inserted as rows (not through intake), so a test can place a received, due and
signed-out time anywhere in the past, and a primary holder with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from worklist.capacity.facts import CaseFact
from worklist.enums import AssignmentKind, CaseStatus, CaseType, Priority
from worklist.models import Absence, Assignment, Case, CaseWait, WaitReason
from worklist.seeding import ImportSummary


def utc(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An aware UTC time (09:00 UTC is 10:00 or 11:00 in Amsterdam: the same local day)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def case_fact(
    received_at: datetime,
    minutes: float = 15.0,
    *,
    department: str = "HMC",
    tumour_group: str = "breast",
    category: int = 2,
    priority: Priority = Priority.ROUTINE,
    due_at: datetime | None = None,
    signed_out_at: datetime | None = None,
    pathologist: str | None = None,
) -> CaseFact:
    """A case fact written by hand; due 7 days after receipt unless ``due_at`` says."""
    return CaseFact(
        case_id=1,
        department_code=department,
        tumour_group=tumour_group,
        category=category,
        priority=priority,
        workload_minutes=minutes,
        received_at=received_at,
        due_at=due_at or received_at + timedelta(days=7),
        signed_out_at=signed_out_at,
        status=CaseStatus.SIGNED_OUT if signed_out_at else CaseStatus.ASSIGNED,
        pathologist_code=pathologist,
    )


@dataclass
class CaseRows:
    """Writes cases (with a primary holder and waits) into the test database."""

    engine: Engine
    ids: ImportSummary
    _next: int = field(default=0)

    def add(
        self,
        *,
        department: str = "HMC",
        tumour_group: str = "gastro-intestinal",
        category: int = 2,
        priority: Priority = Priority.ROUTINE,
        received_at: datetime,
        due_at: datetime | None = None,
        signed_out_at: datetime | None = None,
        pathologist: str | None = None,
        waits: Sequence[tuple[datetime, datetime | None]] = (),
    ) -> int:
        """One case; ``due_at`` defaults to 7 days after receipt."""
        row = self._row(department, tumour_group, category, priority, received_at, signed_out_at)
        if due_at is not None:
            row["due_at"] = due_at
        if pathologist is not None and signed_out_at is None:
            row["status"] = CaseStatus.ASSIGNED
        with Session(self.engine) as session, session.begin():
            case_id = session.execute(insert(Case).returning(Case.id), [row]).scalar_one()
            if pathologist is not None:
                assignment = self._assignment(
                    case_id, pathologist, received_at, signed_out_at is None, ended_at=signed_out_at
                )
                session.execute(insert(Assignment), [assignment])
            for started_at, ended_at in waits:
                session.execute(
                    insert(CaseWait),
                    [
                        {
                            "case_id": case_id,
                            "reason": WaitReason.MOLECULAR_TEST,
                            "started_at": started_at,
                            "ended_at": ended_at,
                            "recorded_by": "test",
                        }
                    ],
                )
        return int(case_id)

    def add_many(
        self,
        received: Sequence[datetime],
        *,
        department: str = "HMC",
        tumour_group: str = "gastro-intestinal",
        category: int = 2,
        signed_after: timedelta | None = None,
    ) -> None:
        """Many routine cases in one statement (no holder), signed out ``signed_after`` receipt."""
        values = [
            self._row(
                department,
                tumour_group,
                category,
                Priority.ROUTINE,
                received_at,
                received_at + signed_after if signed_after is not None else None,
            )
            for received_at in received
        ]
        with Session(self.engine) as session, session.begin():
            session.execute(insert(Case), values)

    def _row(
        self,
        department: str,
        tumour_group: str,
        category: int,
        priority: Priority,
        received_at: datetime,
        signed_out_at: datetime | None,
    ) -> dict[str, object]:
        self._next += 1
        return {
            "accession_number": f"{department}-T26-{self._next:06d}",
            "case_type": CaseType.HISTOLOGY,
            "department_id": self.ids.department_ids[department],
            "patient_pseudonym": f"PSN-{self._next:06d}",
            "tumour_group": tumour_group,
            "category": category,
            "priority": priority,
            "priority_rank": priority.rank,
            "received_at": received_at,
            "due_at": received_at + timedelta(days=7),
            "status": CaseStatus.SIGNED_OUT if signed_out_at else CaseStatus.RECEIVED,
            "signed_out_at": signed_out_at,
            "updated_at": signed_out_at or received_at,
        }

    def primary(
        self,
        case_id: int,
        pathologist: str,
        assigned_at: datetime,
        *,
        active: bool,
        kind: AssignmentKind = AssignmentKind.PRIMARY,
    ) -> None:
        """A primary assignment (or ``kind``) of ``case_id`` to ``pathologist``."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                insert(Assignment),
                [self._assignment(case_id, pathologist, assigned_at, active, kind)],
            )

    def _assignment(
        self,
        case_id: int,
        pathologist: str,
        assigned_at: datetime,
        active: bool,
        kind: AssignmentKind = AssignmentKind.PRIMARY,
        ended_at: datetime | None = None,
    ) -> dict[str, object]:
        return {
            "case_id": case_id,
            "pathologist_id": self.ids.pathologist_ids[pathologist],
            "kind": kind,
            "active": active,
            "assigned_at": assigned_at,
            "assigned_by": "test",
            "rule": "manual",
            "ended_at": ended_at,
            "end_reason": "signed_out" if ended_at else None,
        }

    def absence(self, pathologist: str, starts_on: date, ends_on: date) -> None:
        """An absence on the roster of ``pathologist``."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                insert(Absence),
                [
                    {
                        "pathologist_id": self.ids.pathologist_ids[pathologist],
                        "starts_on": starts_on,
                        "ends_on": ends_on,
                        "reason": "leave",
                    }
                ],
            )


@pytest.fixture
def rows(engine: Engine, region_ids: ImportSummary) -> CaseRows:
    """Writes cases into the test database (the small region imported)."""
    return CaseRows(engine, region_ids)
