"""Routing policies as data: how a round's snapshot and rule set are restricted or varied.

A policy never decides an assignment itself. It only changes what the assignment engine
(:func:`worklist.engine.plan_assignments`) is shown: ``local`` runs the engine once per
department on that department's cases and pathologists (each department alone); ``regional``
runs it once on the whole region with the region's rules as they are; the variants change one
rule of the region's :class:`~worklist.engine.RuleSet` or hide what a rule binds on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from worklist.engine import CaseSnapshot, RuleSet, Snapshot
from worklist.errors import ValidationError

__all__ = ["POLICIES", "Policy", "parse_policies"]


@dataclass(frozen=True, slots=True)
class Policy:
    """One routing policy: which snapshot(s) the engine sees and with which rules."""

    name: str
    description: str
    shared: bool = True
    """One round over the whole region; ``False``: one round per department, on its own."""
    continuity: bool = True
    """``False`` hides who the patient is (a pseudonym per case), so continuity never binds."""
    escalation_horizon_hours: float | None = None
    """Replaces the region's escalation horizon; ``None`` keeps it."""
    general_pool_for_all: bool = False
    """Every tumour group may fall back to the general pool (a wider escalation group)."""

    def rules(self, base: RuleSet, subspecialties: frozenset[str]) -> RuleSet:
        """The rule set of a round under this policy, from the region's ``base``."""
        rules = base
        if self.escalation_horizon_hours is not None:
            rules = replace(
                rules, escalation_horizon=timedelta(hours=self.escalation_horizon_hours)
            )
        if self.general_pool_for_all:
            rules = replace(
                rules, general_pool_fallback=base.general_pool_fallback | subspecialties
            )
        return rules

    def snapshots(self, snapshot: Snapshot) -> list[Snapshot]:
        """The snapshot(s) one round runs the engine on: the region's, or one per department."""
        if not self.continuity:
            snapshot = replace(snapshot, cases=tuple(_anonymous(c) for c in snapshot.cases))
        if self.shared:
            return [snapshot]
        departments = sorted(
            {p.department for p in snapshot.pathologists} | {c.department for c in snapshot.cases}
        )
        return [
            replace(
                snapshot,
                cases=tuple(c for c in snapshot.cases if c.department == department),
                pathologists=tuple(p for p in snapshot.pathologists if p.department == department),
            )
            for department in departments
        ]


def _anonymous(case: CaseSnapshot) -> CaseSnapshot:
    # The engine only compares patients; a pseudonym of its own per case matches nothing else.
    return replace(case, patient=f"case-{case.case_id}")


POLICIES: dict[str, Policy] = {
    policy.name: policy
    for policy in (
        Policy("local", "each department alone: its cases only to its own pathologists", False),
        Policy(
            "local-generalist",
            "each department alone, its pathologists also reading the tumour groups it has "
            "no subspecialist for (the general pool for every group)",
            shared=False,
            general_pool_for_all=True,
        ),
        Policy("regional", "regional sharing by the assignment engine, the region's rules as is"),
        Policy(
            "wide-escalation",
            "regional, and every tumour group may fall back to the general pool",
            general_pool_for_all=True,
        ),
        Policy(
            "early-escalation",
            "regional, with escalation 72 hours before the due time instead of the region's",
            escalation_horizon_hours=72.0,
        ),
        Policy(
            "no-continuity",
            "regional, without the continuity rule (a patient's cases may go to anyone)",
            continuity=False,
        ),
    )
}
"""The policies ``coupe simulate`` knows, by name."""


def parse_policies(text: str) -> tuple[Policy, ...]:
    """Policies from ``"local,regional"``, in the order given; unknown or none is an error."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValidationError(f"no policy given; choose from {', '.join(POLICIES)}")
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValidationError(f"unknown policy {unknown[0]!r}; choose from {', '.join(POLICIES)}")
    if len(set(names)) != len(names):
        raise ValidationError(f"a policy is named twice in {text!r}")
    return tuple(POLICIES[n] for n in names)
