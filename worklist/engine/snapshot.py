"""What the engine sees: an immutable snapshot of open cases, pathologists and rules.

The snapshot is built by the caller (from the database, a region file or a generator) and holds
everything a proposal round depends on, the current time included, so a round is a pure function
of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.workload import WorkloadModel

__all__ = [
    "DEFAULT_SECOND_READ_RULES",
    "GENERAL",
    "CaseSnapshot",
    "PathologistSnapshot",
    "RuleSet",
    "SecondReadRule",
    "Snapshot",
]

GENERAL = "general"
"""The subspecialty of the general pool: pathologists who report any tumour group."""


@dataclass(frozen=True, slots=True)
class CaseSnapshot:
    """One open case as the engine sees it."""

    case_id: int
    accession: str
    department: str
    """The originating department."""
    patient: str
    """Pseudonymised patient id; only compared, never shown."""
    subspecialty: str
    """Tumour group, e.g. ``"gastro-intestinal"``."""
    category: int
    """Specimen complexity category (1-6), fixed on arrival."""
    priority: Priority
    received_at: datetime
    due_at: datetime
    primary_pathologist_id: int | None = None
    """The current primary pathologist; for a second read, the author of the primary read."""
    second_read_trigger: str | None = None
    """A finding that may make a second read mandatory, e.g. ``"barrett_dysplasia"``."""
    second_reader_ids: tuple[int, ...] = ()
    """Second readers already assigned."""
    add_on_minutes: float = 0.0
    """Minutes on top of the category's: frozen section, molecular work."""


@dataclass(frozen=True, slots=True)
class PathologistSnapshot:
    """One pathologist today: who they are, whether they work, how much they hold."""

    pathologist_id: int
    name: str
    department: str
    subspecialties: frozenset[str]
    fte: float
    max_open_minutes: float
    """Personal maximum of open (assigned, unreported) minutes; never exceeded."""
    capacity_today_minutes: float
    """Diagnostic minutes rostered today (0 when absent)."""
    present: bool = True
    """On the roster today."""
    open_minutes: float = 0.0
    """Minutes of open cases already assigned."""
    today_minutes: float = 0.0
    """Minutes assigned today."""
    experienced_in: frozenset[str] = frozenset()
    """Subspecialties in which they count as experienced (for mandatory second reads)."""

    @property
    def load_ratio(self) -> float:
        """Relative load: open minutes (today's included) / today's capacity; infinite without
        capacity."""
        if self.capacity_today_minutes <= 0:
            return float("inf")
        return self.open_minutes / self.capacity_today_minutes


@dataclass(frozen=True, slots=True)
class SecondReadRule:
    """A finding in a tumour group that makes a second read mandatory."""

    subspecialty: str
    trigger: str
    label: str
    """How the finding reads in a sentence: ``"Barrett dysplasia"``."""
    reviewers: int = 1
    """How many second readers; more than one makes a panel."""
    experienced_in: str | None = None
    """Reviewers must be experienced in this subspecialty; ``None``: any specialist."""

    def __post_init__(self) -> None:
        if self.reviewers < 1:
            raise ValidationError(
                f"second-read rule {self.trigger!r} needs at least one reviewer, "
                f"got {self.reviewers}"
            )


DEFAULT_SECOND_READ_RULES: tuple[SecondReadRule, ...] = (
    SecondReadRule(
        "gastro-intestinal",
        "barrett_dysplasia",
        "Barrett dysplasia",
        experienced_in="gastro-intestinal",
    ),
    SecondReadRule(
        "haematopathology",
        "new_lymphoma",
        "a new lymphoma",
        reviewers=2,
        experienced_in="haematopathology",
    ),
    SecondReadRule("dermatopathology", "melanoma_uncertain", "an uncertain melanocytic lesion"),
)
"""The network's default trigger table."""


def _default_second_read_rules() -> tuple[SecondReadRule, ...]:
    return DEFAULT_SECOND_READ_RULES


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The configurable part of the assignment rules."""

    general_pool_fallback: frozenset[str] = frozenset()
    """Subspecialties whose cases may go to the general pool when no specialist can take them."""
    second_reads: tuple[SecondReadRule, ...] = field(default_factory=_default_second_read_rules)
    escalation_horizon: timedelta = timedelta(hours=24)
    """A case due within this horizon that its department cannot place escalates."""
    pull_threshold: float = 0.5
    """A pathologist may pull work only while their relative load is below this."""
    _second_read_index: Mapping[tuple[str, str], SecondReadRule] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], SecondReadRule] = {}
        for rule in self.second_reads:
            key = (rule.subspecialty, rule.trigger)
            if key in index:
                raise ValidationError(f"second-read trigger {key!r} appears twice")
            index[key] = rule
        object.__setattr__(self, "_second_read_index", MappingProxyType(index))
        if self.escalation_horizon < timedelta(0):
            raise ValidationError(
                f"escalation_horizon cannot be negative, got {self.escalation_horizon}"
            )

    def second_read_rule(self, subspecialty: str, trigger: str | None) -> SecondReadRule | None:
        """The mandatory second read for ``trigger`` in ``subspecialty``, if the table has one."""
        if trigger is None:
            return None
        return self._second_read_index.get((subspecialty, trigger))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one proposal round depends on, the current time included."""

    now: datetime
    cases: tuple[CaseSnapshot, ...]
    pathologists: tuple[PathologistSnapshot, ...]
    rules: RuleSet = field(default_factory=RuleSet)
    workload: WorkloadModel = field(default_factory=WorkloadModel)

    def __post_init__(self) -> None:
        _require_unique("case", [c.case_id for c in self.cases])
        _require_unique("pathologist", [p.pathologist_id for p in self.pathologists])


def _require_unique(kind: str, ids: list[int]) -> None:
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise ValidationError(f"{kind} id {duplicates[0]!r} appears twice in the snapshot")
