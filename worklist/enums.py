"""Closed vocabularies of the worklist, stored as their string values."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case is in its life; see :mod:`worklist.lifecycle` for the moves."""

    RECEIVED = "received"
    SCANNED = "scanned"
    ASSIGNED = "assigned"
    IN_REVIEW = "in_review"
    CONSULT_PENDING = "consult_pending"
    SIGNED_OUT = "signed_out"


class Priority(StrEnum):
    """Clinical priority, most urgent first (the declaration order is the urgency order)."""

    FROZEN = "frozen"
    URGENT = "urgent"
    CANCER_PATHWAY = "cancer_pathway"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for the most urgent priority."""
        return list(Priority).index(self)


class CaseType(StrEnum):
    """The letter in an accession number: histology, cytology, other."""

    HISTOLOGY = "T"
    CYTOLOGY = "C"
    OTHER = "O"


class AssignmentKind(StrEnum):
    """Why a pathologist holds a case."""

    PRIMARY = "primary"
    SECOND_OPINION = "second_opinion"
    CONSULT = "consult"


class PyramidStatus(StrEnum):
    """State of a slide's Deep Zoom pyramid."""

    NONE = "none"
    QUEUED = "queued"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class Role(StrEnum):
    """Roles an actor can have."""

    PATHOLOGIST = "pathologist"
    LAB_MANAGER = "lab_manager"
    ADMIN = "admin"
    SYSTEM = "system"
    # Reads the audit log (NEN 7513 review) and sees no clinical content.
    PRIVACY_OFFICER = "privacy_officer"


class AuditAction(StrEnum):
    """NEN 7513 / ISO 27789 action codes."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    EXECUTE = "execute"


class AuditOutcome(StrEnum):
    """Outcome of the audited event (the DICOM audit outcome scale)."""

    SUCCESS = "success"
    MINOR_FAILURE = "minor_failure"
    SERIOUS_FAILURE = "serious_failure"
    MAJOR_FAILURE = "major_failure"


class JobStatus(StrEnum):
    """State of a background job (a pyramid build)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class GrantKind(StrEnum):
    """Why a user may see a case outside their own department."""

    CONSULT = "consult"
    BREAK_GLASS = "break_glass"
