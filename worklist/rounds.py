"""Stored assignment rounds: preview the engine's proposals, approve all or some, apply them.

A round is planned on a snapshot (:func:`worklist.snapshots.build_snapshot`) and stored with
its proposals, what it left unplaced (and why), and a fingerprint of the state its proposals
depend on: which cases are open and who holds them, and which pathologists are present with
how much capacity today. Applying a round rebuilds that state in the applying transaction;
when it differs (a case claimed, released, reassigned or signed out, an absence entered), the
round is stale and refused with what changed: plan a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, func, insert, select, update
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.db import read_session
from worklist.engine import AssignmentPlan, Proposal, Rule, RuleSet, Snapshot, plan_assignments
from worklist.enums import AssignmentKind, AuditAction, CaseStatus
from worklist.errors import ConcurrentUpdateError, NotFoundError, ValidationError
from worklist.models import (
    Assignment,
    AssignmentRound,
    Case,
    Pathologist,
    RoundProposal,
    RoundUnplaced,
)
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import require_manager, utc_now
from worklist.operations.proposals import apply_in_session
from worklist.snapshots import build_snapshot

__all__ = [
    "ResultingLoad",
    "RoundView",
    "StaleRoundError",
    "apply_round",
    "get_round",
    "placement",
    "plan_round",
    "resulting_load",
    "snapshot_state",
    "unplaced_reasons",
]

PREVIEWED, APPLIED = "previewed", "applied"
_CHUNK = 500  # ids per IN (...) list: far below every database's bound-parameter limit


class StaleRoundError(ConcurrentUpdateError):
    """The round's snapshot changed since it was planned; ``changes`` says how."""

    def __init__(self, round_id: int, changes: Sequence[str]) -> None:
        self.changes = tuple(changes)
        shown = "; ".join(changes[:10]) + (
            f"; and {len(changes) - 10} more" if len(changes) > 10 else ""
        )
        super().__init__(f"assignment round {round_id} is stale, plan a new one: {shown}")


@dataclass(frozen=True, slots=True)
class RoundView:
    """A stored round as read back: the round, its proposals in order, its unplaced."""

    round: AssignmentRound
    proposals: tuple[RoundProposal, ...]
    unplaced: tuple[RoundUnplaced, ...]
    pathologist_codes: dict[int, str]
    """Pathologist id -> code (the API names pathologists by code)."""


def placement(proposal: Proposal, case_department: str, person_department: str) -> str:
    """``local`` (a primary read stays at the case's department), ``regional`` (it goes
    further), ``escalation`` or ``second read``."""
    if proposal.rule is Rule.ESCALATION:
        return "escalation"
    if proposal.kind is not AssignmentKind.PRIMARY:
        return "second read"
    return "local" if person_department == case_department else "regional"


def snapshot_state(snapshot: Snapshot) -> dict[str, Any]:
    """What a round's proposals depend on, as JSON: per case its holders, per pathologist
    whether present and today's capacity (minutes)."""
    return {
        "cases": {
            str(c.case_id): [c.accession, c.primary_pathologist_id, list(c.second_reader_ids)]
            for c in snapshot.cases
        },
        "pathologists": {
            str(p.pathologist_id): [p.name, p.present, round(p.capacity_today_minutes, 3)]
            for p in snapshot.pathologists
        },
        # Shown, not compared: open minutes move with every assignment anywhere.
        "load": {
            str(p.pathologist_id): [p.department, p.open_minutes, p.today_minutes]
            for p in snapshot.pathologists
        },
    }


def _digest(state: dict[str, Any]) -> str:
    compared = {"cases": state["cases"], "pathologists": state["pathologists"]}
    return hashlib.sha256(json.dumps(compared, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ResultingLoad:
    """One pathologist's load before the round and after its proposals (all of them for a
    preview, those applied for an applied round)."""

    pathologist_id: int
    name: str
    department: str
    present: bool
    capacity_today_minutes: float
    open_minutes_before: float
    proposed_minutes: float
    proposals: int

    @property
    def relative_load_after(self) -> float | None:
        """``(open, today's included, + proposed) / capacity``; ``None`` without capacity today."""
        return (
            None if self.capacity_today_minutes <= 0 else self._after / self.capacity_today_minutes
        )

    @property
    def _after(self) -> float:
        return self.open_minutes_before + self.proposed_minutes


def resulting_load(view: RoundView) -> list[ResultingLoad]:
    """Per pathologist of the round's snapshot, in id order: load before and after."""
    state = view.round.snapshot_state
    counted = [p for p in view.proposals if view.round.status == PREVIEWED or p.applied]
    minutes: dict[int, float] = {}
    count: dict[int, int] = {}
    for p in counted:
        minutes[p.pathologist_id] = minutes.get(p.pathologist_id, 0.0) + p.minutes
        count[p.pathologist_id] = count.get(p.pathologist_id, 0) + 1
    rows = []
    for key in sorted(state["pathologists"], key=int):
        name, present, capacity = state["pathologists"][key]
        department, open_minutes, _today = state.get("load", {}).get(key, ["", 0.0, 0.0])
        who = int(key)
        rows.append(
            ResultingLoad(
                who,
                name,
                department,
                present,
                capacity,
                open_minutes,
                minutes.get(who, 0.0),
                count.get(who, 0),
            )
        )
    return rows


def _changes(
    before: dict[str, Any], after: dict[str, Any], now_held: dict[int, str] | None = None
) -> list[str]:
    """What changed between two states, one sentence each; ``now_held`` says, for cases that
    left the snapshot, where they are now (:func:`_where_cases_are`)."""
    changes: list[str] = []
    then, now = before["cases"], after["cases"]
    held = now_held or {}
    for key in sorted(then, key=int):
        accession, primary, readers = then[key]
        if key not in now:
            where = held.get(int(key), "claimed, assigned or signed out")
            changes.append(f"case {accession} was {where} meanwhile")
        elif now[key][1] != primary:
            changes.append(
                f"case {accession} changed hands meanwhile (claimed, released or reassigned)"
            )
        elif now[key][2] != readers:
            changes.append(f"case {accession}'s second readers changed meanwhile")
    people_then, people_now = before["pathologists"], after["pathologists"]
    for key in sorted(people_then, key=int):
        name, present, capacity = people_then[key]
        if key not in people_now:
            changes.append(f"{name} is no longer an active pathologist")
        elif people_now[key][1] != present:
            state = "present" if people_now[key][1] else "absent"
            changes.append(f"{name} is now {state} today")
        elif people_now[key][2] != capacity:
            changes.append(f"{name}'s capacity today changed")
    for key in sorted(set(people_now) - set(people_then), key=int):
        changes.append(f"{people_now[key][0]} joined the pathologists")
    return changes


def _where_cases_are(session: Session, case_ids: Collection[int]) -> dict[int, str]:
    """For each case, where it is now, as the end of "case X was ... meanwhile"."""
    ids = sorted(case_ids)
    where: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(Case.id, Case.status, Pathologist.name)
            .outerjoin(
                Assignment,
                (Assignment.case_id == Case.id)
                & Assignment.active
                & (Assignment.kind == AssignmentKind.PRIMARY),
            )
            .outerjoin(Pathologist, Pathologist.id == Assignment.pathologist_id)
            .where(Case.id.in_(ids[start : start + _CHUNK]))
        )
        for case_id, status, holder in rows:
            if status is CaseStatus.SIGNED_OUT:
                where[case_id] = "signed out"
            elif holder is not None:
                where[case_id] = f"assigned to {holder} (now {status.value.replace('_', ' ')})"
            else:
                where[case_id] = f"taken off the open cases (now {status.value})"
    return where


def _plan_rows(round_id: int, plan: AssignmentPlan, snapshot: Snapshot) -> list[dict[str, Any]]:
    cases = {c.case_id: c.department for c in snapshot.cases}
    people = {p.pathologist_id: p.department for p in snapshot.pathologists}
    return [
        {
            "round_id": round_id,
            "seq": seq,
            "case_id": p.case_id,
            "pathologist_id": p.pathologist_id,
            "kind": p.kind.value,
            "rule": p.rule.value,
            "placement": placement(p, cases[p.case_id], people[p.pathologist_id]),
            "reason": p.reason,
            "minutes": p.minutes,
            "overloaded": p.overloaded,
            "applied": False,
        }
        for seq, p in enumerate(plan.proposals)
    ]


def plan_round(
    *, engine: Engine, actor: Actor, now: datetime, rules: RuleSet | None = None
) -> tuple[int, AssignmentPlan, Snapshot]:
    """Plan a round at ``now`` and store it as a preview; its id, plan and snapshot.

    Needs a lab manager or an admin (it shows the whole regional queue); recorded as
    "assignment_round.preview". Changes no assignment.
    """
    moment = utc_now(now)

    def work(session: Session, audit: Recorder) -> tuple[int, AssignmentPlan, Snapshot]:
        snapshot = build_snapshot(session, now=moment, rules=rules)
        plan = plan_assignments(snapshot)
        state = snapshot_state(snapshot)
        stored = AssignmentRound(
            planned_at=moment,
            planned_by=actor.user_id,
            status=PREVIEWED,
            snapshot_digest=_digest(state),
            snapshot_state=state,
        )
        session.add(stored)
        session.flush()
        rows = _plan_rows(stored.id, plan, snapshot)
        if rows:
            session.execute(
                insert(cast(Table, RoundProposal.__table__)), rows
            )  # Core executemany: fastest
        unplaced = [
            {"round_id": stored.id, "case_id": u.case_id, "kind": u.kind.value, "reason": u.reason}
            for u in plan.unplaced
        ]
        if unplaced:
            session.execute(insert(cast(Table, RoundUnplaced.__table__)), unplaced)
        audit.record(
            detail={
                "round_id": stored.id,
                "proposals": len(plan.proposals),
                "unplaced": len(plan.unplaced),
            }
        )
        return stored.id, plan, snapshot

    return run_audited(
        engine,
        actor,
        "assignment_round.preview",
        work,
        action=AuditAction.EXECUTE,
        check=lambda: require_manager(actor, "plan an assignment round"),
        now=moment,
    )


def _load(session: Session, round_id: int) -> RoundView:
    stored = session.get(AssignmentRound, round_id)
    if stored is None:
        raise NotFoundError("assignment round", round_id)
    proposals = session.execute(
        select(RoundProposal).where(RoundProposal.round_id == round_id).order_by(RoundProposal.seq)
    ).scalars()
    unplaced = session.execute(
        select(RoundUnplaced).where(RoundUnplaced.round_id == round_id).order_by(RoundUnplaced.id)
    ).scalars()
    rows = session.execute(select(Pathologist.id, Pathologist.code))
    codes: dict[int, str] = {row.id: row.code for row in rows}
    return RoundView(stored, tuple(proposals), tuple(unplaced), codes)


def get_round(*, engine: Engine, actor: Actor, round_id: int) -> RoundView:
    """A stored round with its proposals and unplaced cases (lab managers and admins)."""
    require_manager(actor, "see an assignment round")
    with read_session(engine) as session, session.begin():
        return _load(session, round_id)


def apply_round(
    *,
    engine: Engine,
    actor: Actor,
    round_id: int,
    approved: Collection[int] | None = None,
    now: datetime | None = None,
    rules: RuleSet | None = None,
) -> RoundView:
    """Apply the approved proposals of a previewed round (``None``: all) in one audited
    transaction ("assignment_round.apply", one "case.assign.<kind>" per assignment).

    Refused, changing nothing: an unknown round or proposal id, a round already applied, a
    second read approved without its case's primary proposal, and a stale round
    (:class:`StaleRoundError`, with what changed).
    """

    def work(session: Session, audit: Recorder) -> RoundView:
        view = _load(session, round_id)
        stored = view.round
        if stored.status != PREVIEWED:
            raise ConcurrentUpdateError(
                f"assignment round {round_id} was already applied at "
                f"{stored.applied_at.isoformat() if stored.applied_at else '?'}"
            )
        chosen = _chosen(view.proposals, approved)
        state = snapshot_state(build_snapshot(session, now=stored.planned_at, rules=rules))
        if _digest(state) != stored.snapshot_digest:
            gone = set(map(int, stored.snapshot_state["cases"])) - set(map(int, state["cases"]))
            changes = _changes(stored.snapshot_state, state, _where_cases_are(session, gone))
            raise StaleRoundError(round_id, changes or ["the snapshot changed"])
        outcome = apply_in_session(
            session,
            audit,
            actor,
            [(p.case_id, p.pathologist_id, p.kind, p.rule) for p in chosen],
        )
        made = {(r.case.case_id, r.pathologist_id, r.kind.value) for r in outcome.applied}
        applied_ids = [p.id for p in chosen if (p.case_id, p.pathologist_id, p.kind) in made]
        for start in range(0, len(applied_ids), _CHUNK):
            session.execute(
                update(RoundProposal)
                .where(RoundProposal.id.in_(applied_ids[start : start + _CHUNK]))
                .values(applied=True)
            )
        stored.status, stored.applied_at, stored.applied_by = APPLIED, audit.moment, actor.user_id
        audit.record(
            detail={
                "round_id": round_id,
                "approved": len(chosen),
                "applied": len(applied_ids),
                "skipped": [f"case {p[0]}: {why}" for p, why in outcome.skipped],
            }
        )
        session.flush()
        session.expire_all()
        return _load(session, round_id)

    return run_audited(
        engine,
        actor,
        "assignment_round.apply",
        work,
        action=AuditAction.EXECUTE,
        check=lambda: require_manager(actor, "apply an assignment round"),
        now=now,
    )


def _chosen(
    proposals: Sequence[RoundProposal], approved: Collection[int] | None
) -> list[RoundProposal]:
    if approved is None:
        return list(proposals)
    wanted = set(approved)
    known = {p.id for p in proposals}
    if unknown := sorted(wanted - known):
        raise ValidationError(f"proposal ids {unknown[:10]} are not in this round")
    chosen = [p for p in proposals if p.id in wanted]
    primaries = {p.case_id for p in proposals if p.kind == AssignmentKind.PRIMARY.value}
    approved_primaries = {p.case_id for p in chosen if p.kind == AssignmentKind.PRIMARY.value}
    for p in chosen:
        if p.kind != AssignmentKind.PRIMARY.value and p.case_id in primaries - approved_primaries:
            raise ValidationError(
                f"proposal {p.id} is a second read of a case whose primary proposal is not "
                "approved; approve both or neither"
            )
    return chosen


def unplaced_reasons(session: Session, case_ids: Iterable[int]) -> dict[int, str]:
    """Why the latest round left each of ``case_ids`` unplaced (cases it placed, or that no
    round has seen, are absent). A primary read's reason wins over a second read's."""
    latest = session.execute(select(func.max(AssignmentRound.id))).scalar_one_or_none()
    ids = sorted(set(case_ids))
    if latest is None or not ids:
        return {}
    reasons: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(RoundUnplaced.case_id, RoundUnplaced.kind, RoundUnplaced.reason)
            .where(RoundUnplaced.round_id == latest)
            .where(RoundUnplaced.case_id.in_(ids[start : start + _CHUNK]))
            .order_by(RoundUnplaced.id)
        )
        for case_id, kind, reason in rows:
            if kind == AssignmentKind.PRIMARY.value or case_id not in reasons:
                reasons[case_id] = reason
    return reasons
