"""The report of a case: versioned drafts, sign-out, signed addenda.

Only the case's primary pathologist writes drafts and signs out. Every save is a new version
(:class:`~worklist.models.ReportVersion`); a save names the version it was made from
(``expected_version``, 0 for "no report yet") and a stale one is refused, so two people (or
two tabs) never overwrite each other. Sign-out needs a conclusion, freezes the report and
records who signed when; afterwards only addenda follow, each signed by its author when added.
Diagnosis codes are stored as given: Coupe checks their shape and size, not the code list.

Writing on an "assigned" case starts its review (:mod:`worklist.lifecycle`). Every write locks
the case row first (``SELECT ... FOR UPDATE``; SQLite's write lock), so writers to one report
take turns. Who may read a report, and add an addendum, is who may open the case: the
service checks that (``services.access.open_case``) before calling these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.enums import AuditAction, CaseStatus
from worklist.errors import (
    ConcurrentUpdateError,
    InvalidTransitionError,
    ReportStateError,
    ValidationError,
)
from worklist.models import Case, Report, ReportAddendum, ReportVersion
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import end_assignment, get_pathologist, lock_case
from worklist.operations.receipts import CaseState
from worklist.operations.review import open_reads, require_primary

MAX_REPORT_TEXT_CHARS = 50_000
"""The longest macroscopy, microscopy, conclusion or addendum (a long report is ~10,000)."""
MAX_DIAGNOSIS_CODES = 50
MAX_CODE_CHARS = 64
MAX_CODE_DISPLAY_CHARS = 500

SAVE_EVENT = "case.report.save"
ADDENDUM_EVENT = "case.report.addendum"
SIGN_OUT_EVENT = "case.sign_out"


@dataclass(frozen=True, slots=True)
class DiagnosisCode:
    """A coded diagnosis as the pathologist gave it: ``system`` (PALGA, SNOMED CT, or ""),
    the code, and its display text."""

    code: str
    display: str
    system: str = ""

    def as_stored(self) -> dict[str, str]:
        """The code as the version row keeps it."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class ReportDraft:
    """The text of a report as one save gives it."""

    macroscopy: str = ""
    microscopy: str = ""
    conclusion: str = ""
    diagnosis_codes: tuple[DiagnosisCode, ...] = ()

    def check(self) -> None:
        """Raise :class:`ValidationError` unless every field is within the limits."""
        for name in ("macroscopy", "microscopy", "conclusion"):
            _check_text(name, getattr(self, name), required=False)
        if len(self.diagnosis_codes) > MAX_DIAGNOSIS_CODES:
            raise ValidationError(
                f"a report takes at most {MAX_DIAGNOSIS_CODES} diagnosis codes, "
                f"not {len(self.diagnosis_codes)}"
            )
        for index, code in enumerate(self.diagnosis_codes):
            if not code.code.strip() or len(code.code) > MAX_CODE_CHARS:
                raise ValidationError(
                    f"diagnosis code {index + 1}: a code of 1-{MAX_CODE_CHARS} characters"
                )
            if len(code.system) > MAX_CODE_CHARS or len(code.display) > MAX_CODE_DISPLAY_CHARS:
                raise ValidationError(
                    f"diagnosis code {index + 1}: a system of at most {MAX_CODE_CHARS} and a "
                    f"display text of at most {MAX_CODE_DISPLAY_CHARS} characters"
                )


def _check_text(name: str, value: str, *, required: bool) -> None:
    if len(value) > MAX_REPORT_TEXT_CHARS:
        raise ValidationError(
            f"{name}: at most {MAX_REPORT_TEXT_CHARS:,} characters, not {len(value):,}"
        )
    if required and not value.strip():
        raise ValidationError(f"{name}: needs text")


@dataclass(frozen=True, slots=True)
class ReportSaved:
    """A save: the report's new version, and the case after it (its review may have started)."""

    version: int
    case: CaseState
    review_started: bool


def report_of(session: Session, case_id: int) -> Report | None:
    """The case's report, or None when nothing was saved yet."""
    return session.scalar(select(Report).where(Report.case_id == case_id))


def current_version(session: Session, report: Report) -> ReportVersion | None:
    """The report's current text (its latest version)."""
    return session.scalar(
        select(ReportVersion).where(
            ReportVersion.report_id == report.id, ReportVersion.version == report.version
        )
    )


def _check_report_version(case: Case, report: Report | None, expected: int | None) -> None:
    current = report.version if report is not None else 0
    if expected is not None and expected != current:
        raise ConcurrentUpdateError(
            f"the report of case {case.accession_number!r} is at version {current}, not "
            f"{expected}: someone else saved in between; reload it and retry"
        )


def _started(detail: dict[str, Any], review_started: bool) -> dict[str, Any]:
    return {**detail, "review_started": True} if review_started else detail


def save_report(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    draft: ReportDraft,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ReportSaved:
    """Save a draft of the case's report as its next version, by its primary pathologist.

    ``expected_version`` is the version the draft was written from (0: no report yet; None:
    no check). Refused (and recorded as refused) when stale, when the case is signed out, and
    for anyone but the primary pathologist. An "assigned" case starts its review.
    """
    draft.check()

    def work(session: Session, audit: Recorder) -> ReportSaved:
        case = lock_case(session, case_id)
        require_primary(
            session,
            case,
            pathologist_id,
            "write its report",
            CaseStatus.IN_REVIEW,
            signed_out_message=(
                f"the report of case {case.accession_number!r} is signed out; add an addendum"
            ),
        )
        report = report_of(session, case.id)
        _check_report_version(case, report, expected_version)
        review_started = lifecycle.start_review_implicitly(case, now=audit.moment)
        if report is None:
            report = Report(case_id=case.id, version=0)
            session.add(report)
        report.version += 1
        session.flush()  # the report's id, for a first save
        session.add(
            ReportVersion(
                report_id=report.id,
                version=report.version,
                macroscopy=draft.macroscopy,
                microscopy=draft.microscopy,
                conclusion=draft.conclusion,
                diagnosis_codes=[code.as_stored() for code in draft.diagnosis_codes],
                saved_at=audit.moment,
                saved_by_id=pathologist_id,
            )
        )
        session.flush()
        audit.record(case=case, detail=_started({"version": report.version}, review_started))
        return ReportSaved(report.version, CaseState.of(case), review_started)

    return run_audited(engine, actor, SAVE_EVENT, work, case_id=case_id, now=now)


def sign_out(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    expected_version: int | None = None,
    expected_report_version: int | None = None,
    now: datetime | None = None,
) -> CaseState:
    """The primary pathologist signs the case out: every second read must be in and the report
    must have a conclusion. The report is frozen and records who signed when; an "assigned"
    case starts (and ends) its review here.

    ``expected_version`` is the case's version, ``expected_report_version`` the report's, as
    the signer read them (None: no check).
    """

    def work(session: Session, audit: Recorder) -> CaseState:
        case = lock_case(session, case_id, expected_version=expected_version)
        primary = require_primary(
            session, case, pathologist_id, "sign it out", CaseStatus.SIGNED_OUT
        )
        review_started = lifecycle.start_review_implicitly(case, now=audit.moment)
        lifecycle.check_transition(case.accession_number, case.status, CaseStatus.SIGNED_OUT)
        waiting = open_reads(session, case.id)
        if waiting:
            raise InvalidTransitionError(
                case.accession_number,
                case.status.value,
                CaseStatus.SIGNED_OUT.value,
                f"{len(waiting)} second read(s) or consult(s) still open",
            )
        report = report_of(session, case.id)
        _check_report_version(case, report, expected_report_version)
        text = current_version(session, report) if report is not None else None
        if report is None or text is None or not text.conclusion.strip():
            raise ReportStateError(
                case.accession_number,
                case.status.value,
                CaseStatus.SIGNED_OUT.value,
                "the report needs a conclusion before sign-out",
            )
        lifecycle.transition(case, CaseStatus.SIGNED_OUT, now=audit.moment)
        end_assignment(primary, reason=lifecycle.SIGNED_OUT_END_REASON, now=audit.moment)
        report.signed_at = audit.moment
        report.signed_by_id = pathologist_id
        audit.record(case=case, detail=_started({"report_version": report.version}, review_started))
        return CaseState.of(case)

    return run_audited(engine, actor, SIGN_OUT_EVENT, work, case_id=case_id, now=now)


def add_addendum(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    body: str,
    now: datetime | None = None,
) -> int:
    """Add an addendum to a signed-out report, signed by pathologist ``pathologist_id`` now;
    returns its id. Before sign-out the report itself is edited instead (refused here)."""
    _check_text("body", body, required=True)

    def work(session: Session, audit: Recorder) -> int:
        case = lock_case(session, case_id)
        if case.status is not CaseStatus.SIGNED_OUT:
            raise ReportStateError(
                case.accession_number,
                case.status.value,
                CaseStatus.SIGNED_OUT.value,
                "the case is not signed out yet: edit the report",
            )
        report = report_of(session, case.id)
        if report is None or report.signed_at is None:
            raise ReportStateError(
                case.accession_number,
                case.status.value,
                CaseStatus.SIGNED_OUT.value,
                "it was signed out without a report in Coupe: there is no report to add to",
            )
        get_pathologist(session, pathologist_id)
        addendum = ReportAddendum(
            report_id=report.id, body=body, signed_at=audit.moment, signed_by_id=pathologist_id
        )
        session.add(addendum)
        session.flush()
        audit.record(case=case, detail={"addendum_id": addendum.id})
        return addendum.id

    return run_audited(
        engine, actor, ADDENDUM_EVENT, work, action=AuditAction.CREATE, case_id=case_id, now=now
    )
