"""Operations many people race on: each is one transaction, safe under concurrency.

Every operation takes keyword arguments only, starting with the ``engine`` and the ``actor``,
writes an audit record (one event name for its success and its refusal,
:mod:`worklist.operations._audited`), and returns plain values
(:mod:`worklist.operations.receipts`). The report and sign-out are
:mod:`worklist.operations.reports`. The tiling job's state machine is
:mod:`worklist.operations.jobs`; a scan landing is :mod:`worklist.operations.scans`.
"""

from __future__ import annotations

from worklist.operations.assign import assign_case, reassign_case
from worklist.operations.claim import claim_case, claim_next, release_case, why_nothing_to_claim
from worklist.operations.intake import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_case,
    intake_cases,
)
from worklist.operations.jobs import PyramidLocator, PyramidTarget, set_pyramid_status
from worklist.operations.notes import add_annotation, add_comment, record_access
from worklist.operations.proposals import Proposal, ProposalOutcome, apply_proposals
from worklist.operations.receipts import AssignmentReceipt, CaseState
from worklist.operations.reports import (
    DiagnosisCode,
    ReportDraft,
    ReportSaved,
    add_addendum,
    save_report,
    sign_out,
)
from worklist.operations.review import (
    ConsultGrant,
    ConsultReceipt,
    answer_consult,
    request_consult,
    start_review,
)
from worklist.operations.scans import ScanRegistration, register_scan
from worklist.operations.withdrawal import SlideWithdrawal, restore_slide, withdraw_slide

__all__ = [
    "AssignmentReceipt",
    "BlockIntake",
    "CaseIntake",
    "CaseState",
    "ConsultGrant",
    "ConsultReceipt",
    "DiagnosisCode",
    "Proposal",
    "ProposalOutcome",
    "PyramidLocator",
    "PyramidTarget",
    "ReportDraft",
    "ReportSaved",
    "ScanRegistration",
    "SlideIntake",
    "SlideWithdrawal",
    "SpecimenIntake",
    "add_addendum",
    "add_annotation",
    "add_comment",
    "answer_consult",
    "apply_proposals",
    "assign_case",
    "claim_case",
    "claim_next",
    "intake_case",
    "intake_cases",
    "reassign_case",
    "record_access",
    "register_scan",
    "release_case",
    "request_consult",
    "restore_slide",
    "save_report",
    "set_pyramid_status",
    "sign_out",
    "start_review",
    "why_nothing_to_claim",
    "withdraw_slide",
]
