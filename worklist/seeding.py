"""Putting a region into the database: departments and pathologists, matched by code.

:func:`region_changes` says what an import would change (shown before it is applied);
:func:`import_region` applies it, and an import that would change nothing writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction
from worklist.models import Absence, Department, Pathologist, PathologistSubspecialty
from worklist.region import PathologistSpec, Region
from worklist.roster import format_working_days


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """Ids by code after :func:`import_region`, and what it changed (one line each)."""

    department_ids: dict[str, int]
    pathologist_ids: dict[str, int]
    changes: tuple[str, ...] = ()


def region_changes(session: Session, region: Region) -> list[str]:
    """What importing ``region`` would change, one readable line per change (empty: none)."""
    lines: list[str] = []
    departments = {d.code: d for d in session.execute(select(Department)).scalars()}
    codes = {d.id: d.code for d in departments.values()}
    for spec in region.departments:
        found = departments.get(spec.code)
        if found is None:
            lines.append(f"add department {spec.code} ({spec.name}, {spec.city})")
        elif (found.name, found.city) != (spec.name, spec.city):
            lines.append(f"change department {spec.code}: {found.name!r} -> {spec.name!r}")
    existing = {p.code: p for p in session.execute(select(Pathologist)).scalars()}
    for person in region.pathologists:
        found_person = existing.get(person.code)
        if found_person is None:
            lines.append(
                f"add pathologist {person.code} ({person.name}, {person.department}, "
                f"FTE {person.fte:g}, {', '.join(person.subspecialties)})"
            )
            continue
        lines.extend(_pathologist_changes(found_person, person, codes))
    listed = {p.code for p in region.pathologists}
    for code, pathologist in sorted(existing.items()):
        if code not in listed and pathologist.active:
            lines.append(f"deactivate pathologist {code} (not in the file)")
    return lines


def _pathologist_changes(
    found: Pathologist, person: PathologistSpec, department_codes: dict[int, str]
) -> list[str]:
    wanted = {
        "name": person.name,
        "department": person.department,
        "FTE": person.fte,
        "max open minutes": person.max_open_minutes,
        "working days": format_working_days(person.roster.working_weekdays),
        "subspecialties": sorted(person.subspecialties),
        "experienced in": sorted(person.experienced_in),
        "active": True,
    }
    current = {
        "name": found.name,
        "department": department_codes.get(found.department_id),
        "FTE": found.fte,
        "max open minutes": found.max_open_minutes,
        "working days": found.working_days,
        "subspecialties": sorted(found.subspecialty_names),
        "experienced in": sorted(found.experienced_in),
        "active": found.active,
    }
    lines = [
        f"change pathologist {person.code}: {key} {current[key]!r} -> {value!r}"
        for key, value in wanted.items()
        if current[key] != value
    ]
    have = {(a.starts_on, a.ends_on) for a in found.absences}
    for absence in person.roster.absences:
        if (absence.starts_on, absence.ends_on) not in have:
            lines.append(
                f"add absence {person.code} {absence.starts_on.isoformat()}.."
                f"{absence.ends_on.isoformat()} ({absence.reason})"
            )
    return lines


def import_region(*, engine: Engine, actor: Actor, region: Region) -> ImportSummary:
    """Create or update the region's departments and pathologists in one transaction.

    Pathologists are matched by code; their subspecialties are replaced by the file's, and the
    file's absences are added where missing (absences entered on the page are kept).
    Pathologists missing from the file are kept but marked inactive, because assignments and
    audit records still refer to them. Importing the same file again changes nothing and
    records nothing.
    """

    def work(session: Session) -> ImportSummary:
        changes = tuple(region_changes(session, region))
        if not changes:
            return _summary(session)
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
            # In place (a row per name is its primary key): drop, update, add.
            wanted = {name: name in person.experienced_in for name in person.subspecialties}
            for held in list(pathologist.subspecialties):
                if held.subspecialty not in wanted:
                    pathologist.subspecialties.remove(held)
                else:
                    held.experienced = wanted.pop(held.subspecialty)
            pathologist.subspecialties.extend(
                PathologistSubspecialty(subspecialty=name, experienced=experienced)
                for name, experienced in sorted(wanted.items())
            )
            have = {(a.starts_on, a.ends_on) for a in pathologist.absences}
            pathologist.absences.extend(
                Absence(starts_on=a.starts_on, ends_on=a.ends_on, reason=a.reason)
                for a in person.roster.absences
                if (a.starts_on, a.ends_on) not in have
            )
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
                "changes": len(changes),
            },
        )
        summary = _summary(session)
        return ImportSummary(summary.department_ids, summary.pathologist_ids, changes)

    return run_in_transaction(engine, work)


def _summary(session: Session) -> ImportSummary:
    return ImportSummary(
        department_ids={d.code: d.id for d in session.execute(select(Department)).scalars()},
        pathologist_ids={p.code: p.id for p in session.execute(select(Pathologist)).scalars()},
    )
