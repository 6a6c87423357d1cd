"""What operations hand back: plain values, safe to use after the transaction has ended."""

from __future__ import annotations

from dataclasses import dataclass

from worklist.enums import AssignmentKind, CaseStatus
from worklist.models import Assignment, Case


@dataclass(frozen=True, slots=True)
class CaseState:
    """A case's identity, status and version after an operation."""

    case_id: int
    accession_number: str
    status: CaseStatus
    version: int

    @classmethod
    def of(cls, case: Case) -> CaseState:
        """Snapshot ``case`` (after flush, so the version is current)."""
        return cls(case.id, case.accession_number, case.status, case.version)


@dataclass(frozen=True, slots=True)
class AssignmentReceipt:
    """An assignment that an operation made, and the case's state after it."""

    assignment_id: int
    pathologist_id: int
    pathologist_code: str
    kind: AssignmentKind
    rule: str
    case: CaseState

    @classmethod
    def of(cls, assignment: Assignment, case: Case) -> AssignmentReceipt:
        """Snapshot ``assignment`` and its ``case``.

        The pathologist's code is read in the transaction, from the pathologist the operation
        loaded to assign (the session's identity map: no query), so that showing the receipt
        needs no read of its own."""
        return cls(
            assignment.id,
            assignment.pathologist_id,
            assignment.pathologist.code,
            assignment.kind,
            assignment.rule,
            CaseState.of(case),
        )
