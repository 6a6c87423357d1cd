"""Intake: cases arrive at a front office with their specimens, blocks and slides."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.accession import format_accession, parse_accession
from worklist.actor import Actor
from worklist.enums import AuditAction, CaseStatus, CaseType, Priority, PyramidStatus
from worklist.errors import DuplicateAccessionError, NotFoundError, ValidationError
from worklist.models import AccessionCounter, Block, Case, Department, Slide, Specimen
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import utc_now
from worklist.operations.receipts import CaseState
from worklist.workload import due_time


@dataclass(frozen=True, slots=True)
class SlideIntake:
    """A slide: its stain and, if already scanned, its whole-slide image."""

    stain: str = "H&E"
    file_path: str | None = None


@dataclass(frozen=True, slots=True)
class BlockIntake:
    """A block (label like "A1") and its slides."""

    label: str
    slides: Sequence[SlideIntake] = (SlideIntake(),)


@dataclass(frozen=True, slots=True)
class SpecimenIntake:
    """A specimen (label like "A") and its blocks."""

    label: str
    description: str = ""
    blocks: Sequence[BlockIntake] = ()


@dataclass(frozen=True, slots=True)
class CaseIntake:
    """Everything the front office registers for a new case.

    Without ``accession_number`` one is allocated from the department's counter. Without
    ``due_at`` the due time follows from the priority's turnaround target. A case whose
    slides all arrive with an image enters as "scanned".
    """

    department: str
    patient_pseudonym: str
    tumour_group: str
    category: int
    priority: Priority = Priority.ROUTINE
    case_type: CaseType = CaseType.HISTOLOGY
    received_at: datetime | None = None
    due_at: datetime | None = None
    second_read_trigger: str | None = None
    accession_number: str | None = None
    specimens: Sequence[SpecimenIntake] = field(default_factory=tuple)


def intake_cases(
    *, engine: Engine, actor: Actor, cases: Sequence[CaseIntake], now: datetime | None = None
) -> list[CaseState]:
    """Register ``cases`` in one transaction (all or nothing) and return their states.

    An accession number that is already taken (or given twice) raises
    :class:`~worklist.errors.DuplicateAccessionError` and registers nothing.
    """

    def work(session: Session, audit: Recorder) -> list[CaseState]:
        moment = audit.moment
        departments = {d.code: d for d in session.execute(select(Department)).scalars()}
        codes = {d.id: code for code, d in departments.items()}
        for request in cases:
            _validate(departments, request)
        accessions = _accession_numbers(session, departments, cases, moment)
        _refuse_duplicates(session, accessions)
        created = [
            _create_case(session, departments, request, accession, moment)
            for request, accession in zip(cases, accessions, strict=True)
        ]
        try:
            session.flush()
        except IntegrityError as exc:
            # Another intake took one of the numbers between our check and our insert.
            if "accession_number" in str(exc.orig):
                raise DuplicateAccessionError(None, "taken by a concurrent intake") from exc
            raise
        audit.write(
            *(
                audit.entry(
                    case=case, site=codes[case.department_id], detail={"status": case.status.value}
                )
                for case in created
            )
        )
        return [CaseState.of(case) for case in created]

    return run_audited(engine, actor, "case.intake", work, action=AuditAction.CREATE, now=now)


def intake_case(
    *, engine: Engine, actor: Actor, case: CaseIntake, now: datetime | None = None
) -> CaseState:
    """Register one case; see :func:`intake_cases`."""
    return intake_cases(engine=engine, actor=actor, cases=[case], now=now)[0]


def _validate(departments: dict[str, Department], request: CaseIntake) -> None:
    if request.department not in departments:
        raise NotFoundError("department", request.department)
    if not 1 <= request.category <= 6:
        raise ValidationError(f"specimen category must be 1-6, got {request.category}")


def _accession_numbers(
    session: Session,
    departments: dict[str, Department],
    requests: Sequence[CaseIntake],
    now: datetime,
) -> list[str]:
    """The given accession numbers, and new ones from the counters, in request order.

    One counter update per (site, type, year) reserves a whole range, so the cases can then be
    inserted in batches instead of one flush per case.
    """
    keys: list[tuple[str, CaseType, int] | None] = []
    for request in requests:
        if request.accession_number:
            keys.append(None)
        else:
            year = utc_now(request.received_at or now).year
            keys.append((departments[request.department].code, request.case_type, year))
    wanted = Counter(key for key in keys if key is not None)
    next_seq = {
        key: _reserve_accessions(session, *key, count=count)
        for key, count in sorted(wanted.items())  # a fixed lock order: no deadlocks
    }
    numbers: list[str] = []
    for request, key in zip(requests, keys, strict=True):
        if key is None:
            assert request.accession_number is not None
            numbers.append(request.accession_number)
            continue
        numbers.append(format_accession(*key, next_seq[key]))
        next_seq[key] += 1
    return numbers


def _refuse_duplicates(session: Session, accessions: Sequence[str], chunk: int = 500) -> None:
    repeated = sorted(a for a, n in Counter(accessions).items() if n > 1)
    if repeated:
        raise DuplicateAccessionError(repeated[0], "it appears twice in this intake")
    for start in range(0, len(accessions), chunk):
        taken = session.execute(
            select(Case.accession_number)
            .where(Case.accession_number.in_(accessions[start : start + chunk]))
            .order_by(Case.accession_number)
            .limit(1)
        ).scalar_one_or_none()
        if taken is not None:
            raise DuplicateAccessionError(taken, "another case has it")


def _create_case(
    session: Session,
    departments: dict[str, Department],
    request: CaseIntake,
    accession: str,
    now: datetime,
) -> Case:
    department = departments[request.department]
    received_at = utc_now(request.received_at or now)
    parsed = parse_accession(accession)
    if parsed.case_type is not request.case_type:
        raise ValidationError(
            f"accession number {accession!r} is type {parsed.case_type.value}, "
            f"the case is {request.case_type.value}"
        )
    case = Case(
        accession_number=accession,
        case_type=request.case_type,
        department_id=department.id,
        patient_pseudonym=request.patient_pseudonym,
        tumour_group=request.tumour_group,
        category=request.category,
        priority=request.priority,
        second_read_trigger=request.second_read_trigger,
        received_at=received_at,
        due_at=utc_now(request.due_at)
        if request.due_at
        else due_time(received_at, request.priority),
        status=CaseStatus.RECEIVED,
        updated_at=now,
    )
    for specimen_request in request.specimens:
        specimen = Specimen(label=specimen_request.label, description=specimen_request.description)
        for block_request in specimen_request.blocks:
            block = Block(label=block_request.label)
            for slide_request in block_request.slides:
                scanned = slide_request.file_path is not None
                block.slides.append(
                    Slide(
                        stain=slide_request.stain,
                        file_path=slide_request.file_path,
                        scanned_at=now if scanned else None,
                        pyramid_status=PyramidStatus.NONE,
                    )
                )
            specimen.blocks.append(block)
        case.specimens.append(specimen)
    lifecycle.mark_scanned_when_complete(case, now=now)
    session.add(case)
    return case


def _reserve_accessions(
    session: Session, site: str, case_type: CaseType, year: int, *, count: int
) -> int:
    """Reserve ``count`` sequence numbers for (site, type, year) atomically; the first of them."""
    values = {
        "site": site,
        "case_type": case_type.value,
        "year_2digit": year % 100,
        "last_seq": count,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(AccessionCounter)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["site", "case_type", "year_2digit"],
            set_={"last_seq": AccessionCounter.last_seq + count},
        )
        .returning(AccessionCounter.last_seq)
    )
    last: int = session.execute(statement).scalar_one()
    return last - count + 1
