"""The assignment engine: one proposal round, a pure function of a :class:`Snapshot`.

The rules, in the order they bind:

1. Eligibility (hard): the pathologist reports the case's subspecialty (the general pool only
   where the rule set allows it for that subspecialty), is on the roster with diagnostic time
   today, and stays under their personal maximum of open minutes.
2. Locality: the originating department while one of its eligible pathologists has room today;
   then the region, by lowest relative load ``open minutes (today's included) / today's capacity``.
3. Order: frozen > urgent > cancer pathway > routine, then earliest due, then case id.
4. Continuity: a patient's open cases stay with the pathologist who already holds them.
5. Mandatory second reads from the rule set's trigger table: never by the author, preferably at
   another site, by an experienced pathologist where the trigger says so.
6. Escalation: a case due within the escalation horizon that its department cannot place goes to
   the wider group (the whole region, the general pool where allowed): first to someone with
   room today, and only when nobody has, past today's capacity (never past anyone's maximum);
   such a proposal is flagged ``overloaded``.

Loads grow as the round places cases, so later cases see the earlier ones. Ties are broken by
ids, never by input order: the same snapshot in any order gives the same proposals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from worklist.engine import _reasons as reasons
from worklist.engine._staff import Pool, Staff
from worklist.engine.proposals import AssignmentPlan, Proposal, Rule, Unplaced
from worklist.engine.snapshot import (
    GENERAL,
    CaseSnapshot,
    PathologistSnapshot,
    SecondReadRule,
    Snapshot,
)
from worklist.enums import AssignmentKind, Priority

__all__ = ["can_pull", "case_order_key", "plan_assignments", "propose_assignments"]


def propose_assignments(snapshot: Snapshot) -> list[Proposal]:
    """The proposals of one round, in the order the engine made them."""
    return list(plan_assignments(snapshot).proposals)


def plan_assignments(snapshot: Snapshot) -> AssignmentPlan:
    """One round: the proposals, and the cases (or second reads) it could not place, with why."""
    return _Round(snapshot).run()


def can_pull(pathologist: PathologistSnapshot, snapshot: Snapshot) -> bool:
    """Whether ``pathologist`` may pull extra work: only when their own queue is short.

    Work is pushed, not cherry-picked; pulling is for someone present whose relative load is
    below the rule set's pull threshold and who is under their personal maximum.
    """
    if not pathologist.present or pathologist.capacity_today_minutes <= 0:
        return False
    if pathologist.open_minutes >= pathologist.max_open_minutes:
        return False
    return pathologist.load_ratio < snapshot.rules.pull_threshold


_RANK = {priority: priority.rank for priority in Priority}


def case_order_key(
    priority: Priority, due_at: datetime, received_at: datetime, case_id: int
) -> tuple[int, datetime, datetime, int]:
    """The order the engine takes cases in (rule 3): most urgent priority, earliest due,
    earliest received, then the id to break ties. The simulation's pathologists work their
    cases in this order too."""
    return (_RANK[priority], due_at, received_at, case_id)


def _order(case: CaseSnapshot) -> tuple[int, datetime, datetime, int]:
    return case_order_key(case.priority, case.due_at, case.received_at, case.case_id)


class _Round:
    """The state of one round: loads, pools by subspecialty and department, continuity."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.rules = snapshot.rules
        self.workload = snapshot.workload
        self.staff = Staff(snapshot.pathologists)
        self.cases = sorted(snapshot.cases, key=_order)
        self.proposals: list[Proposal] = []
        self.unplaced: list[Unplaced] = []
        self.continuity = self._held_by_patient()
        category_minutes = self.workload.case_minutes
        self.minutes = {
            c.case_id: category_minutes(c.category) + c.add_on_minutes for c in self.cases
        }
        self.present: Counter[str | tuple[str, str]] = Counter()
        self._build_pools()

    # -- set-up -------------------------------------------------------------------------------

    def _held_by_patient(self) -> dict[str, int]:
        """Patient -> the pathologist holding their earliest already-assigned open case."""
        held: dict[str, int] = {}
        for case in self.cases:
            if case.primary_pathologist_id is None or case.patient in held:
                continue
            i = self.staff.by_id.get(case.primary_pathologist_id)
            if i is not None:
                held[case.patient] = i
        return held

    def _task_minutes(self) -> float:
        """The smallest task of the round; someone with less headroom is done for the round."""
        smallest = min(self.minutes.values(), default=0.0)
        return min(smallest, self.workload.second_opinion_minutes(smallest))

    def _build_pools(self) -> None:
        staff = self.staff
        by_subspecialty: dict[str, list[int]] = defaultdict(list)
        by_site: dict[tuple[str, str], list[int]] = defaultdict(list)
        experienced: dict[str, list[int]] = defaultdict(list)
        for i, person in enumerate(staff.people):
            for subspecialty in sorted(person.subspecialties):
                by_subspecialty[subspecialty].append(i)
                by_site[subspecialty, person.department].append(i)
            for subspecialty in sorted(person.experienced_in):
                experienced[subspecialty].append(i)
            if staff.available[i]:
                for subspecialty in person.subspecialties:
                    self.present[subspecialty] += 1
                    self.present[subspecialty, person.department] += 1
        useless_below = self._task_minutes()
        self.region = {s: Pool(staff, m, useless_below) for s, m in by_subspecialty.items()}
        self.site = {k: Pool(staff, m, useless_below) for k, m in by_site.items()}
        self.specialists = dict(by_subspecialty)
        self.experienced = dict(experienced)

    def _minutes(self, case: CaseSnapshot) -> float:
        return self.minutes[case.case_id]

    # -- the round ----------------------------------------------------------------------------

    def run(self) -> AssignmentPlan:
        for case in self.cases:
            author = case.primary_pathologist_id
            if author is None:
                author = self._place_primary(case)
            rule = self.rules.second_read_rule(case.subspecialty, case.second_read_trigger)
            if rule is not None and len(case.second_reader_ids) < rule.reviewers:
                self._place_second_reads(case, rule, author)
        return AssignmentPlan(tuple(self.proposals), tuple(self.unplaced))

    def _propose(
        self, case: CaseSnapshot, i: int, kind: AssignmentKind, rule: Rule, reason: str, m: float
    ) -> None:
        overloaded = not self.staff.fits(i, m, need_room=True)
        self.staff.take(i, m)
        person = self.staff.people[i]
        self.proposals.append(
            Proposal(case.case_id, person.pathologist_id, kind, rule, reason, m, overloaded)
        )

    def _general_allowed(self, subspecialty: str) -> bool:
        """Whether the rule set lets this subspecialty fall back to the general pool."""
        return subspecialty != GENERAL and subspecialty in self.rules.general_pool_fallback

    def _place_primary(self, case: CaseSnapshot) -> int | None:
        """Place the case's primary read; the pathologist's id, or ``None`` if left unplaced."""
        staff = self.staff
        m = self._minutes(case)
        s, site = case.subspecialty, case.department
        left = case.due_at - self.snapshot.now
        near = left <= self.rules.escalation_horizon
        on_site_only = self.workload.on_site_only(case.priority)
        general = self._general_allowed(s)

        i = self.continuity.get(case.patient)
        if i is not None and self._continuity_fits(case, i, m, general, on_site_only):
            reason = reasons.continuity(case, m, staff.people[i], staff.room(i))
            return self._primary(case, i, Rule.CONTINUITY, reason, m)

        pool = self.site.get((s, site))
        if pool is not None and (i := pool.best(m, need_room=True)) is not None:
            reason = reasons.local_capacity(case, m, staff.people[i], staff.room(i))
            return self._primary(case, i, Rule.LOCAL_CAPACITY, reason, m)

        for pool, rule, need_room in self._wider(s, site, near=near, on_site_only=on_site_only):
            if pool is None or (i := pool.best(m, need_room=need_room)) is None:
                continue
            person, load_ratio = staff.people[i], staff.load(i)
            if rule is Rule.ESCALATION:
                horizon = self.rules.escalation_horizon
                reason = reasons.escalation(
                    case, m, person, load_ratio, left, horizon, overloaded=not need_room
                )
            elif rule is Rule.REGIONAL_LEAST_LOAD:
                reason = reasons.regional_least_load(case, m, person, load_ratio)
            else:
                reason = reasons.general_pool(case, m, person, load_ratio)
            return self._primary(case, i, rule, reason, m)

        anyone_present = any(
            self.present[(group, site) if on_site_only else group]
            for group in ([s, GENERAL] if general else [s])
        )
        reason = reasons.unplaced_primary(
            case,
            m,
            anyone_present=anyone_present,
            on_site_only=on_site_only,
            near=near,
            general_allowed=general,
        )
        self.unplaced.append(Unplaced(case.case_id, reason, AssignmentKind.PRIMARY))
        return None

    def _wider(
        self, s: str, site: str, *, near: bool, on_site_only: bool
    ) -> list[tuple[Pool | None, Rule, bool]]:
        """Where a case goes when its own department's specialists have no room, in order,
        with whether today's capacity binds there.

        Specialists before the general pool (and that only where the rules allow it). A case
        near its deadline escalates: within today's capacity first, and only when nobody in
        the wider group has room, past it (the proposal is then flagged overloaded).
        """
        general = self._general_allowed(s)
        if near:
            stages = [(self.site.get((s, site)) if on_site_only else self.region.get(s))]
            if general:
                stages.append(
                    self.site.get((GENERAL, site)) if on_site_only else self.region.get(GENERAL)
                )
            within = [(pool, Rule.ESCALATION, True) for pool in stages]
            return within + [(pool, Rule.ESCALATION, False) for pool in stages]
        wider: list[tuple[Pool | None, Rule, bool]] = []
        if not on_site_only:
            wider.append((self.region.get(s), Rule.REGIONAL_LEAST_LOAD, True))
        if general:
            wider.append((self.site.get((GENERAL, site)), Rule.GENERAL_POOL, True))
            if not on_site_only:
                wider.append((self.region.get(GENERAL), Rule.GENERAL_POOL, True))
        return wider

    def _continuity_fits(
        self, case: CaseSnapshot, i: int, m: float, general: bool, on_site_only: bool
    ) -> bool:
        person = self.staff.people[i]
        eligible = case.subspecialty in person.subspecialties or (
            general and GENERAL in person.subspecialties
        )
        if not eligible or not self.staff.available[i]:
            return False
        if on_site_only and person.department != case.department:
            return False
        return self.staff.fits(i, m, need_room=True)

    def _primary(self, case: CaseSnapshot, i: int, rule: Rule, reason: str, m: float) -> int:
        self._propose(case, i, AssignmentKind.PRIMARY, rule, reason, m)
        self.continuity.setdefault(case.patient, i)
        return self.staff.people[i].pathologist_id

    def _place_second_reads(
        self, case: CaseSnapshot, rule: SecondReadRule, author_id: int | None
    ) -> None:
        """Give out the trigger's missing second reads, one reviewer at a time."""
        kind = AssignmentKind.SECOND_OPINION
        missing = rule.reviewers - len(case.second_reader_ids)
        if author_id is None:
            reason = reasons.unplaced_second_read(case, rule, has_author=False)
            self.unplaced.extend(Unplaced(case.case_id, reason, kind) for _ in range(missing))
            return
        staff = self.staff
        author = staff.by_id.get(author_id)
        author_site = staff.people[author].department if author is not None else case.department
        m = self.workload.second_opinion_minutes(self._minutes(case))
        near = case.due_at - self.snapshot.now <= self.rules.escalation_horizon
        taken = {author_id, *case.second_reader_ids}
        pool = (
            self.experienced.get(rule.experienced_in, [])
            if rule.experienced_in
            else self.specialists.get(case.subspecialty, [])
        )
        for _ in range(missing):
            candidates = [
                j
                for j in pool
                if staff.available[j] and staff.people[j].pathologist_id not in taken
            ]
            i = self._reviewer(candidates, author_site, m, need_room=True)
            escalated = i is None and near
            if i is None and near:
                i = self._reviewer(candidates, author_site, m, need_room=False)
            if i is None:
                reason = reasons.unplaced_second_read(case, rule, has_author=True)
                self.unplaced.append(Unplaced(case.case_id, reason, kind))
                continue
            person = staff.people[i]
            reason = reasons.second_read(
                case, rule, person, staff.room(i), author_site, escalated=escalated
            )
            code = Rule.ESCALATION if escalated else Rule.SECOND_READ_TRIGGER
            self._propose(case, i, kind, code, reason, m)
            taken.add(person.pathologist_id)

    def _reviewer(
        self, candidates: list[int], author_site: str, m: float, *, need_room: bool
    ) -> int | None:
        """Another site before the author's, then the lowest relative load, then the lowest id."""
        staff = self.staff
        fitting = [j for j in candidates if staff.fits(j, m, need_room=need_room)]
        if not fitting:
            return None
        return min(
            fitting,
            key=lambda j: (staff.people[j].department == author_site, staff.load(j), j),
        )
