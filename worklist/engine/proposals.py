"""What the engine answers: proposals, each with the rule that made it, and what it left."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from worklist.enums import AssignmentKind

__all__ = ["AssignmentPlan", "Proposal", "Rule", "Unplaced"]


class Rule(StrEnum):
    """Stable codes for the rule that made a proposal; stored with every assignment."""

    CONTINUITY = "continuity"
    LOCAL_CAPACITY = "local-capacity"
    REGIONAL_LEAST_LOAD = "regional-least-load"
    GENERAL_POOL = "general-pool"
    ESCALATION = "escalation"
    SECOND_READ_TRIGGER = "second-read-trigger"


@dataclass(frozen=True, slots=True)
class Proposal:
    """Give ``case_id`` to ``pathologist_id`` as ``kind``, because of ``rule``."""

    case_id: int
    pathologist_id: int
    kind: AssignmentKind
    rule: Rule
    reason: str
    """One sentence a lab manager can read."""
    minutes: float
    overloaded: bool = False
    """The pathologist goes past today's capacity with it (only ever by escalation)."""


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A case (or one of its second reads) the round could not place, and why."""

    case_id: int
    reason: str
    kind: AssignmentKind = AssignmentKind.PRIMARY


@dataclass(frozen=True, slots=True)
class AssignmentPlan:
    """The outcome of one round, in the order the engine decided."""

    proposals: tuple[Proposal, ...]
    unplaced: tuple[Unplaced, ...]
