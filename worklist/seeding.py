"""Putting a region into the database: departments and pathologists, matched by code."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction
from worklist.models import Absence, Department, Pathologist, PathologistSubspecialty
from worklist.region import Region
from worklist.roster import format_working_days


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """Ids by code after :func:`import_region`."""

    department_ids: dict[str, int]
    pathologist_ids: dict[str, int]


def import_region(*, engine: Engine, actor: Actor, region: Region) -> ImportSummary:
    """Create or update the region's departments and pathologists in one transaction.

    Pathologists are matched by code; their subspecialties and absences are replaced by the
    file's. Pathologists missing from the file are kept but marked inactive, because
    assignments and audit records still refer to them.
    """

    def work(session: Session) -> ImportSummary:
        departments = {d.code: d for d in session.execute(select(Department)).scalars()}
        for spec in region.departments:
            department = departments.get(spec.code)
            if department is None:
                department = departments[spec.code] = Department(code=spec.code)
                session.add(department)
            department.name, department.city = spec.name, spec.city
        session.flush()
        existing = {p.code: p for p in session.execute(select(Pathologist)).scalars()}
        listed = set()
        for person in region.pathologists:
            listed.add(person.code)
            pathologist = existing.get(person.code)
            if pathologist is None:
                pathologist = Pathologist(code=person.code)
                session.add(pathologist)
            pathologist.name = person.name
            pathologist.department_id = departments[person.department].id
            pathologist.fte = person.fte
            pathologist.max_open_minutes = person.max_open_minutes
            pathologist.working_days = format_working_days(person.roster.working_weekdays)
            pathologist.active = True
            pathologist.subspecialties = [
                PathologistSubspecialty(
                    subspecialty=name, experienced=name in person.experienced_in
                )
                for name in person.subspecialties
            ]
            pathologist.absences = [
                Absence(starts_on=a.starts_on, ends_on=a.ends_on, reason=a.reason)
                for a in person.roster.absences
            ]
        for code, pathologist in existing.items():
            if code not in listed:
                pathologist.active = False
        session.flush()
        record_event(
            session,
            actor=actor,
            event_type="region.import",
            action=AuditAction.UPDATE,
            detail={
                "region": region.name,
                "departments": len(region.departments),
                "pathologists": len(region.pathologists),
            },
        )
        return ImportSummary(
            department_ids={code: d.id for code, d in departments.items()},
            pathologist_ids={p.code: p.id for p in session.execute(select(Pathologist)).scalars()},
        )

    return run_in_transaction(engine, work)
