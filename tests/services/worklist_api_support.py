"""Helpers for the case, worklist and consult API tests: people, cases and their headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tests.services.conftest import ServiceHarness
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import Priority, Role
from worklist.models import AuditEvent, Block, Pathologist, Slide, Specimen
from worklist.operations import BlockIntake, CaseIntake, SlideIntake, SpecimenIntake, intake_case

DEPARTMENTS = ("HMC", "LUMC", "ALR", "GHZ", "HAGA", "RDGG")


@dataclass(frozen=True)
class Person:
    """A signed-in user of a test: their account id, pathologist id (and the code the API
    names the pathologist by), and request headers."""

    username: str
    user_id: int
    pathologist_id: int | None
    headers: dict[str, str]
    pathologist_code: str | None = None


def sign_in(service: ServiceHarness, username: str, user_id: int) -> dict[str, str]:
    """Bearer headers for ``user_id`` (a token straight from the signer: no argon2 per test)."""
    token = service.client.app.state.coupe.sessions.issue(user_id)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def pathologist(service: ServiceHarness, code: str) -> Person:
    """A pathologist account for the region's pathologist ``code`` (e.g. "HMC-01")."""
    username = code.lower()
    user_id = service.add_user(username, Role.PATHOLOGIST, pathologist_code=code)
    with read_session(service.engine) as session:
        pathologist_id = session.scalar(select(Pathologist.id).where(Pathologist.code == code))
    return Person(username, user_id, pathologist_id, sign_in(service, username, user_id), code)


def manager(service: ServiceHarness, username: str = "manager", department: str = "HMC") -> Person:
    """A lab manager at ``department``."""
    user_id = service.add_user(username, Role.LAB_MANAGER, department_code=department)
    return Person(username, user_id, None, sign_in(service, username, user_id))


def admin(service: ServiceHarness, username: str = "admin") -> Person:
    """An administrator without a department."""
    user_id = service.add_user(username, Role.ADMIN)
    return Person(username, user_id, None, sign_in(service, username, user_id))


def make_case(
    service: ServiceHarness,
    department: str = "HMC",
    *,
    tumour_group: str = "gastro-intestinal",
    priority: Priority = Priority.ROUTINE,
    scanned: bool = True,
) -> int:
    """A case with specimen A, block A1 and one H&E slide; "scanned" unless told otherwise."""
    state = intake_case(
        engine=service.engine,
        actor=Actor.system(),
        case=CaseIntake(
            department=department,
            patient_pseudonym=f"PSN-{department}",
            tumour_group=tumour_group,
            category=2,
            priority=priority,
            specimens=(
                SpecimenIntake(
                    label="A",
                    description="biopsy",
                    blocks=(
                        BlockIntake(
                            label="A1",
                            slides=(SlideIntake("H&E", "scans/a.svs" if scanned else None),),
                        ),
                    ),
                ),
            ),
        ),
    )
    return state.case_id


def first_slide(service: ServiceHarness, case_id: int) -> int:
    """The id of the case's first slide."""
    with read_session(service.engine) as session:
        slide_id = session.scalar(
            select(Slide.id)
            .join(Block, Slide.block_id == Block.id)
            .join(Specimen, Block.specimen_id == Specimen.id)
            .where(Specimen.case_id == case_id)
            .order_by(Slide.id)
        )
    assert slide_id is not None
    return slide_id


def audit_events(service: ServiceHarness, event_type: str) -> list[AuditEvent]:
    """The audit records of ``event_type``, in order."""
    with read_session(service.engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.event_type == event_type)
                .order_by(AuditEvent.seq)
            )
        )


def post(service: ServiceHarness, path: str, who: Person, body: Any = None) -> Any:
    """POST ``body`` as JSON to ``path``, signed in as ``who``."""
    return service.client.post(path, json=body, headers=who.headers)
