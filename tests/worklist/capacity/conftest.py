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

from worklist.enums import AssignmentKind, CaseStatus, CaseType, Priority
from worklist.models import Absence, Assignment, Case, CaseWait, WaitReason
from worklist.seeding import ImportSummary


def utc(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An aware UTC time (09:00 UTC is 10:00 or 11:00 in Amsterdam: the same local day)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


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
        self._next += 1
        status = CaseStatus.SIGNED_OUT if signed_out_at else CaseStatus.RECEIVED
        if pathologist is not None and signed_out_at is None:
            status = CaseStatus.ASSIGNED
        with Session(self.engine) as session, session.begin():
            case_id = session.execute(
                insert(Case).returning(Case.id),
                [
                    {
                        "accession_number": f"{department}-T26-{self._next:06d}",
                        "case_type": CaseType.HISTOLOGY,
                        "department_id": self.ids.department_ids[department],
                        "patient_pseudonym": f"PSN-{self._next:06d}",
                        "tumour_group": tumour_group,
                        "category": category,
                        "priority": priority,
                        "priority_rank": priority.rank,
                        "received_at": received_at,
                        "due_at": due_at or received_at + timedelta(days=7),
                        "status": status,
                        "signed_out_at": signed_out_at,
                        "updated_at": signed_out_at or received_at,
                    }
                ],
            ).scalar_one()
            if pathologist is not None:
                session.execute(
                    insert(Assignment),
                    [
                        {
                            "case_id": case_id,
                            "pathologist_id": self.ids.pathologist_ids[pathologist],
                            "kind": AssignmentKind.PRIMARY,
                            "active": signed_out_at is None,
                            "assigned_at": received_at,
                            "assigned_by": "test",
                            "rule": "manual",
                            "ended_at": signed_out_at,
                            "end_reason": "signed_out" if signed_out_at else None,
                        }
                    ],
                )
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
        with Session(self.engine) as session, session.begin():
            values = []
            for received_at in received:
                self._next += 1
                signed = received_at + signed_after if signed_after is not None else None
                values.append(
                    {
                        "accession_number": f"{department}-T26-{self._next:06d}",
                        "case_type": CaseType.HISTOLOGY,
                        "department_id": self.ids.department_ids[department],
                        "patient_pseudonym": f"PSN-{self._next:06d}",
                        "tumour_group": tumour_group,
                        "category": category,
                        "priority": Priority.ROUTINE,
                        "priority_rank": Priority.ROUTINE.rank,
                        "received_at": received_at,
                        "due_at": received_at + timedelta(days=7),
                        "status": CaseStatus.SIGNED_OUT if signed else CaseStatus.RECEIVED,
                        "signed_out_at": signed,
                        "updated_at": received_at,
                    }
                )
            session.execute(insert(Case), values)

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
