"""The assignment engine: a pure, deterministic function from a snapshot to proposals.

No database and no clock: the caller builds a :class:`Snapshot` (the current time included) and
gets back proposals, each with the rule that made it and a sentence saying why.
"""

from __future__ import annotations

from worklist.engine.assign import (
    can_pull,
    case_order_key,
    plan_assignments,
    propose_assignments,
)
from worklist.engine.proposals import AssignmentPlan, Proposal, Rule, Unplaced
from worklist.engine.snapshot import (
    DEFAULT_SECOND_READ_RULES,
    GENERAL,
    CaseSnapshot,
    PathologistSnapshot,
    RuleSet,
    SecondReadRule,
    Snapshot,
)

__all__ = [
    "DEFAULT_SECOND_READ_RULES",
    "GENERAL",
    "AssignmentPlan",
    "CaseSnapshot",
    "PathologistSnapshot",
    "Proposal",
    "Rule",
    "RuleSet",
    "SecondReadRule",
    "Snapshot",
    "Unplaced",
    "can_pull",
    "case_order_key",
    "plan_assignments",
    "propose_assignments",
]
