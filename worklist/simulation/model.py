"""The SimPy model of the region: arrivals, assignment rounds by the engine, pathologists at work.

Simulated time is in minutes from midnight UTC of the first day. Three kinds of activity:

- Arrivals wait until the next round (a case "arrives" in the worklist when received).
- A round runs every day at :data:`ROUND_TIME_UTC` (the region's morning round, 08:30 in the
  Netherlands, as the demo runs it): the policy turns the simulated state into the engine's
  :class:`~worklist.engine.Snapshot`\\ (s), :func:`~worklist.engine.plan_assignments` decides,
  and every proposal is booked on its pathologist. Nobody is rostered at weekends or on public
  holidays, so those rounds place nothing.
- Each pathologist is a SimPy process: on a rostered day (:class:`~worklist.roster.Roster`:
  part-time pattern, absences, Dutch public holidays) they spend their day's capacity (the
  weekly capacity over their working weekdays, as the engine plans it) between
  :data:`WORK_START_UTC` and the end of the working day, on their tasks in the engine's order
  (priority, then earliest due, then receipt, then case id). A task longer than what is left of
  the day is carried over. A second read may be given while the primary read is under way; a
  case is signed out when its primary read and every mandatory second read are done.

Arrivals stop after ``weeks``; the rounds and the work go on for ``drain_days`` more so that the
last weeks' cases can be reported. The model is deterministic: no random draws, ties by id.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

import simpy

from worklist.capacity.facts import PathologistFact
from worklist.capacity.supply import minutes_per_working_day
from worklist.engine import (
    GENERAL,
    CaseSnapshot,
    PathologistSnapshot,
    Proposal,
    RuleSet,
    Snapshot,
    case_order_key,
    plan_assignments,
)
from worklist.enums import AssignmentKind
from worklist.errors import ValidationError
from worklist.region import PathologistSpec, Region
from worklist.simulation.arrivals import Arrival
from worklist.simulation.policies import Policy
from worklist.snapshots import REGION_TIMEZONE, case_minutes
from worklist.workload import WorkloadModel

__all__ = [
    "ROUND_TIME_UTC",
    "WORKDAY_MINUTES",
    "WORK_START_UTC",
    "Booking",
    "SimulatedCase",
    "SimulationRun",
    "pathologist_facts",
    "simulate",
    "simulate_policies",
]

ROUND_TIME_UTC = time(7, 30)
"""The daily assignment round (services.commands.demo_worklist.MORNING_ROUND_UTC)."""
WORK_START_UTC = time(8, 0)
WORKDAY_MINUTES = 540.0
"""A working day's wall-clock length (08:00-17:00 UTC); the day's capacity is spread over it."""
_EPSILON_MINUTES = 1e-6
_DAY_MINUTES = 24 * 60


@dataclass(slots=True)
class SimulatedCase:
    """One case's course through the simulation."""

    case_id: int
    arrival: Arrival
    due_at: datetime
    minutes: float
    """Standard minutes of the primary read (the frozen section included)."""
    second_reads_required: int
    primary_id: int | None = None
    second_reader_ids: list[int] = field(default_factory=list)
    reads_left: int = 0
    signed_out_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Booking:
    """One proposal as the simulation booked it: who reads which case, as what, by which rule."""

    day: date
    case_id: int
    pathologist_id: int
    kind: AssignmentKind
    rule: str
    minutes: float


@dataclass(slots=True)
class _Task:
    case: SimulatedCase
    minutes: float
    remaining: float

    def order(self) -> tuple[int, datetime, datetime, int]:
        arrival = self.case.arrival
        return case_order_key(
            arrival.priority, self.case.due_at, arrival.received_at, self.case.case_id
        )


@dataclass(slots=True)
class _Person:
    pathologist_id: int
    spec: PathologistSpec
    day_capacity_minutes: float
    tasks: list[_Task] = field(default_factory=list)
    open_minutes: float = 0.0
    booked_day: date | None = None
    booked_today_minutes: float = 0.0
    worked_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class SimulationRun:
    """What one policy's simulation produced."""

    policy: Policy
    start: date
    weeks: int
    drain_days: int
    cases: tuple[SimulatedCase, ...]
    bookings: tuple[Booking, ...]
    pathologists: tuple[PathologistSpec, ...]
    """By id - 1."""
    worked_minutes: tuple[float, ...]
    """Minutes each pathologist worked (second reads included), by id - 1."""
    rounds: int


def pathologist_facts(region: Region) -> list[PathologistFact]:
    """The region's pathologists as the capacity metrics see them (for supply)."""
    return [
        PathologistFact(
            code=p.code,
            name=p.name,
            department_code=p.department,
            fte=p.fte,
            working_weekdays=p.roster.working_weekdays,
            absences=tuple((a.starts_on, a.ends_on) for a in p.roster.absences),
            subspecialties=p.subspecialties,
        )
        for p in region.pathologists
    ]


def simulate(
    region: Region,
    arrivals: Sequence[Arrival],
    policy: Policy,
    *,
    start: date,
    weeks: int,
    drain_days: int = 28,
    workload: WorkloadModel | None = None,
) -> SimulationRun:
    """Run the region under ``policy`` on ``arrivals`` (sorted by receipt) from ``start``."""
    return _Model(region, arrivals, policy, start, weeks, drain_days, workload).run()


class _Model:
    def __init__(
        self,
        region: Region,
        arrivals: Sequence[Arrival],
        policy: Policy,
        start: date,
        weeks: int,
        drain_days: int,
        workload: WorkloadModel | None,
    ) -> None:
        self.region, self.policy = region, policy
        self.start, self.weeks, self.drain_days = start, weeks, drain_days
        self.workload = workload or WorkloadModel()
        self.origin = datetime.combine(start, time(0), tzinfo=UTC)
        self.days = weeks * 7 + drain_days
        self.env = simpy.Environment()
        groups = {a.subspecialty for a in arrivals} | {
            s for p in region.pathologists for s in p.subspecialties
        }
        self.rules: RuleSet = policy.rules(region.rules, frozenset(groups - {GENERAL}))
        facts = pathologist_facts(region)
        self.people = [
            _Person(i + 1, spec, minutes_per_working_day(self.workload, fact))
            for i, (spec, fact) in enumerate(zip(region.pathologists, facts, strict=True))
        ]
        if any(b.received_at < a.received_at for a, b in pairwise(arrivals)):
            raise ValidationError("the arrivals must be sorted by receipt time")
        self.cases = [self._case(i + 1, a) for i, a in enumerate(arrivals)]
        self.received = 0  # cases[:received] have arrived
        self.waiting: dict[int, SimulatedCase] = {}  # no primary yet
        self.open: dict[int, SimulatedCase] = {}  # assigned, not signed out
        self.bookings: list[Booking] = []
        self.rounds = 0

    def _case(self, case_id: int, arrival: Arrival) -> SimulatedCase:
        rule = self.rules.second_read_rule(arrival.subspecialty, arrival.second_read_trigger)
        return SimulatedCase(
            case_id=case_id,
            arrival=arrival,
            due_at=self.workload.due_time(arrival.received_at, arrival.priority),
            minutes=case_minutes(self.workload, arrival.category, arrival.priority),
            second_reads_required=rule.reviewers if rule is not None else 0,
        )

    def run(self) -> SimulationRun:
        self.env.process(self._rounds())
        for person in self.people:
            if person.day_capacity_minutes > 0:
                self.env.process(self._work(person))
        self.env.run(until=self.days * _DAY_MINUTES)
        return SimulationRun(
            policy=self.policy,
            start=self.start,
            weeks=self.weeks,
            drain_days=self.drain_days,
            cases=tuple(self.cases),
            bookings=tuple(self.bookings),
            pathologists=tuple(p.spec for p in self.people),
            worked_minutes=tuple(p.worked_minutes for p in self.people),
            rounds=self.rounds,
        )

    # -- time ---------------------------------------------------------------------------------

    def _minute(self, moment: datetime) -> float:
        return (moment - self.origin) / timedelta(minutes=1)

    def _moment(self, minute: float) -> datetime:
        return self.origin + timedelta(minutes=minute)

    def _at(self, day_index: int, clock: time) -> float:
        return day_index * _DAY_MINUTES + clock.hour * 60 + clock.minute

    def _wait_until(self, minute: float) -> Generator[Any, Any, None]:
        if minute > self.env.now:
            yield self.env.timeout(minute - self.env.now)

    # -- rounds -------------------------------------------------------------------------------

    def _rounds(self) -> Generator[Any, Any, None]:
        for day_index in range(self.days):
            yield from self._wait_until(self._at(day_index, ROUND_TIME_UTC))
            self._round(self._moment(self.env.now))

    def _round(self, now: datetime) -> None:
        while self.received < len(self.cases):
            case = self.cases[self.received]
            if case.arrival.received_at > now:
                break
            self.waiting[case.case_id] = case
            self.received += 1
        today = now.astimezone(REGION_TIMEZONE).date()
        people = [self._person_snapshot(p, today) for p in self.people]
        snapshot = Snapshot(now, self._case_snapshots(), tuple(people), self.rules, self.workload)
        self.rounds += 1
        for part in self.policy.snapshots(snapshot):
            if not part.cases or not any(p.present for p in part.pathologists):
                continue
            for proposal in plan_assignments(part).proposals:
                self._book(proposal, today)

    def _case_snapshots(self) -> tuple[CaseSnapshot, ...]:
        # What the database would hand the engine (worklist.snapshots): the cases waiting for a
        # primary read, the assigned ones still missing a second read, and the assigned open
        # cases of the waiting patients (continuity).
        patients = {c.arrival.patient for c in self.waiting.values()}
        chosen = list(self.waiting.values()) + [
            c
            for c in self.open.values()
            if c.arrival.patient in patients or len(c.second_reader_ids) < c.second_reads_required
        ]
        return tuple(self._case_snapshot(c) for c in sorted(chosen, key=lambda c: c.case_id))

    def _case_snapshot(self, case: SimulatedCase) -> CaseSnapshot:
        arrival = case.arrival
        return CaseSnapshot(
            case_id=case.case_id,
            accession=f"SIM-{case.case_id:07d}",
            department=arrival.department,
            patient=arrival.patient,
            subspecialty=arrival.subspecialty,
            category=arrival.category,
            priority=arrival.priority,
            received_at=arrival.received_at,
            due_at=case.due_at,
            primary_pathologist_id=case.primary_id,
            second_read_trigger=arrival.second_read_trigger,
            second_reader_ids=tuple(sorted(case.second_reader_ids)),
            add_on_minutes=case.minutes - self.workload.case_minutes(arrival.category),
        )

    def _person_snapshot(self, person: _Person, today: date) -> PathologistSnapshot:
        spec = person.spec
        present = person.day_capacity_minutes > 0 and spec.roster.is_working(today)
        if person.booked_day != today:
            person.booked_day, person.booked_today_minutes = today, 0.0
        return PathologistSnapshot(
            pathologist_id=person.pathologist_id,
            name=spec.name,
            department=spec.department,
            subspecialties=frozenset(spec.subspecialties),
            fte=spec.fte,
            max_open_minutes=spec.max_open_minutes,
            capacity_today_minutes=person.day_capacity_minutes if present else 0.0,
            present=present,
            open_minutes=person.open_minutes,
            today_minutes=person.booked_today_minutes,
            experienced_in=frozenset(spec.experienced_in),
        )

    def _book(self, proposal: Proposal, today: date) -> None:
        person = self.people[proposal.pathologist_id - 1]
        case = self.cases[proposal.case_id - 1]
        if proposal.kind is AssignmentKind.PRIMARY:
            case.primary_id = person.pathologist_id
            del self.waiting[case.case_id]
            self.open[case.case_id] = case
        else:
            case.second_reader_ids.append(person.pathologist_id)
        case.reads_left += 1
        person.tasks.append(_Task(case, proposal.minutes, proposal.minutes))
        person.open_minutes += proposal.minutes
        person.booked_today_minutes += proposal.minutes
        self.bookings.append(
            Booking(
                today,
                case.case_id,
                person.pathologist_id,
                proposal.kind,
                proposal.rule.value,
                proposal.minutes,
            )
        )

    # -- work ---------------------------------------------------------------------------------

    def _work(self, person: _Person) -> Generator[Any, Any, None]:
        per_day = person.day_capacity_minutes
        wall_per_minute = WORKDAY_MINUTES / per_day
        for day_index in range(self.days):
            day_start = self._at(day_index, WORK_START_UTC)
            yield from self._wait_until(day_start)
            day = self._moment(day_start).astimezone(REGION_TIMEZONE).date()
            if not person.spec.roster.is_working(day):
                continue
            budget = per_day
            while budget > _EPSILON_MINUTES and person.tasks:
                task = min(person.tasks, key=_Task.order)
                work = min(task.remaining, budget)
                yield self.env.timeout(work * wall_per_minute)
                task.remaining -= work
                budget -= work
                person.worked_minutes += work
                if task.remaining <= _EPSILON_MINUTES:
                    self._finish(person, task)

    def _finish(self, person: _Person, task: _Task) -> None:
        person.tasks.remove(task)
        person.open_minutes -= task.minutes
        case = task.case
        case.reads_left -= 1
        done = case.primary_id is not None and case.reads_left == 0
        if done and len(case.second_reader_ids) >= case.second_reads_required:
            case.signed_out_at = self._moment(self.env.now)
            del self.open[case.case_id]


def simulate_policies(
    region: Region,
    arrivals: Sequence[Arrival],
    policies: Sequence[Policy],
    *,
    start: date,
    weeks: int,
    drain_days: int = 28,
    workload: WorkloadModel | None = None,
) -> list[SimulationRun]:
    """One run per policy, all on the same ``arrivals`` and rosters."""
    return [
        simulate(
            region,
            arrivals,
            policy,
            start=start,
            weeks=weeks,
            drain_days=drain_days,
            workload=workload,
        )
        for policy in policies
    ]
