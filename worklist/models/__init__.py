"""The worklist's tables (SQLAlchemy 2.0 declarative models)."""

from __future__ import annotations

from worklist.models.access import CaseGrant, UserAccount
from worklist.models.assignment import Assignment
from worklist.models.audit import AuditChainHead, AuditEvent
from worklist.models.base import Base
from worklist.models.case import AccessionCounter, Block, Case, Slide, Specimen
from worklist.models.case_move import CaseMove
from worklist.models.case_wait import CaseWait, WaitReason
from worklist.models.imports import ImportedFile, ImportOutcome
from worklist.models.jobs import TilingJob
from worklist.models.notes import Annotation, Comment
from worklist.models.organisation import Absence, Department, Pathologist, PathologistSubspecialty
from worklist.models.report import (
    Report,
    ReportAddendum,
    ReportStatus,
    ReportVersion,
    report_status,
)
from worklist.models.round import AssignmentRound, RoundProposal, RoundUnplaced
from worklist.models.sessions import SignInFailure, UserSession

__all__ = [
    "Absence",
    "AccessionCounter",
    "Annotation",
    "Assignment",
    "AssignmentRound",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Block",
    "Case",
    "CaseGrant",
    "CaseMove",
    "CaseWait",
    "Comment",
    "Department",
    "ImportOutcome",
    "ImportedFile",
    "Pathologist",
    "PathologistSubspecialty",
    "Report",
    "ReportAddendum",
    "ReportStatus",
    "ReportVersion",
    "RoundProposal",
    "RoundUnplaced",
    "SignInFailure",
    "Slide",
    "Specimen",
    "TilingJob",
    "UserAccount",
    "UserSession",
    "WaitReason",
    "report_status",
]
