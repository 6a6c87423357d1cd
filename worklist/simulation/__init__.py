"""What sharing buys: a discrete-event simulation (SimPy) of the region under routing policies.

The assignment engine decides every assignment in the simulation; a :class:`Policy` only
restricts what it is shown or varies one of its rules. See ``docs/simulation.md``.
"""

from __future__ import annotations

from worklist.simulation.arrivals import Arrival, recorded_arrivals, synthetic_arrivals
from worklist.simulation.model import SimulationRun, simulate, simulate_policies
from worklist.simulation.policies import POLICIES, Policy, parse_policies
from worklist.simulation.results import compare, policy_result

__all__ = [
    "POLICIES",
    "Arrival",
    "Policy",
    "SimulationRun",
    "compare",
    "parse_policies",
    "policy_result",
    "recorded_arrivals",
    "simulate",
    "simulate_policies",
    "synthetic_arrivals",
]
