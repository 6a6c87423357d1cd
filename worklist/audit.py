"""NEN 7513 audit logging as a tamper-evident hash chain.

Each record stores ``prev_hash`` (the previous record's hash) and ``record_hash`` =
sha256 over its canonical content (every field, ``seq`` and ``prev_hash`` included). Editing a
record breaks its own hash; deleting or reordering records breaks the links or the sequence;
cutting off the tail shows against the chain head. Appends lock the single chain-head row, so
concurrent writers form one chain; operations write their audit record last, keeping that
lock for as short a time as possible.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.enums import AuditAction, AuditOutcome
from worklist.models import AuditChainHead, AuditEvent, Case

GENESIS_HASH = "0" * 64
CHAIN_HEAD_ID = 1


def record_event(
    session: Session,
    *,
    actor: Actor,
    event_type: str,
    action: AuditAction,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    case: Case | None = None,
    slide_id: int | None = None,
    site: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one audit record in ``session``'s transaction and return it.

    Call it last in a transaction: it takes the chain lock, held until commit.
    """
    entry = AuditEntry(event_type, action, outcome, case, slide_id, site, detail)
    return record_events(session, actor=actor, entries=[entry], now=now)[0]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event to append with :func:`record_events`; the actor and time are shared."""

    event_type: str
    action: AuditAction
    outcome: AuditOutcome = AuditOutcome.SUCCESS
    case: Case | None = None
    slide_id: int | None = None
    site: str | None = None
    detail: Mapping[str, Any] | None = None


def record_events(
    session: Session,
    *,
    actor: Actor,
    entries: Sequence[AuditEntry],
    now: datetime | None = None,
) -> list[AuditEvent]:
    """Append several audit records, in order, under one take of the chain lock.

    The same chain as one :func:`record_event` per entry, without a round trip per record:
    what a batch operation (an intake, an assignment round) should use. Call it last.
    """
    session.flush()
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == CHAIN_HEAD_ID).with_for_update()
    ).scalar_one()
    occurred_at = (now or datetime.now(UTC)).astimezone(UTC)
    events: list[AuditEvent] = []
    for entry in entries:
        case = entry.case
        event = AuditEvent(
            seq=head.last_seq + 1,
            event_id=str(uuid.uuid4()),
            occurred_at=occurred_at,
            event_type=entry.event_type,
            action=entry.action,
            outcome=entry.outcome,
            user_id=actor.user_id,
            role=actor.role.value,
            on_behalf_of=actor.on_behalf_of,
            purpose_of_use=actor.purpose_of_use,
            site=entry.site if entry.site is not None else actor.site,
            patient_pseudonym=case.patient_pseudonym if case is not None else None,
            case_id=case.id if case is not None else None,
            accession_number=case.accession_number if case is not None else None,
            slide_id=entry.slide_id,
            break_glass=actor.break_glass,
            detail=json.dumps(dict(entry.detail or {}), sort_keys=True, separators=(",", ":")),
            prev_hash=head.last_hash,
        )
        event.record_hash = compute_hash(event)
        head.last_seq = event.seq
        head.last_hash = event.record_hash
        events.append(event)
    session.add_all(events)
    session.flush()
    return events


def canonical_content(event: AuditEvent) -> bytes:
    """The bytes the record's hash covers: every field but the hash, in a fixed form."""
    occurred_at = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    content = {
        "seq": event.seq,
        "event_id": event.event_id,
        "occurred_at": occurred_at,
        "event_type": event.event_type,
        "action": AuditAction(event.action).value,
        "outcome": AuditOutcome(event.outcome).value,
        "user_id": event.user_id,
        "role": event.role,
        "on_behalf_of": event.on_behalf_of,
        "purpose_of_use": event.purpose_of_use,
        "site": event.site,
        "patient_pseudonym": event.patient_pseudonym,
        "case_id": event.case_id,
        "accession_number": event.accession_number,
        "slide_id": event.slide_id,
        "break_glass": bool(event.break_glass),
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(event: AuditEvent) -> str:
    """sha256 (hex) of :func:`canonical_content`."""
    return hashlib.sha256(canonical_content(event)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One inconsistency in the chain: where and what."""

    seq: int
    kind: str  # "edited", "broken_link", "gap", "truncated"
    message: str


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Result of :func:`verify_audit_chain`."""

    records_checked: int
    problems: tuple[ChainProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return not self.problems


def verify_audit_chain(session: Session, *, batch_size: int = 1000) -> ChainVerification:
    """Walk the whole log in ``seq`` order and report every edited, missing or moved record."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    ).scalars()
    for event in rows:
        checked += 1
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(event.seq, "gap", f"expected record {expected_seq}, found {event.seq}")
            )
        if compute_hash(event) != event.record_hash:
            problems.append(
                ChainProblem(event.seq, "edited", f"record {event.seq} does not match its hash")
            )
        if event.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    event.seq,
                    "broken_link",
                    f"record {event.seq} does not follow the record before it "
                    "(deleted, inserted or reordered records)",
                )
            )
        expected_prev = event.record_hash
        expected_seq = event.seq + 1
        session.expunge(event)
    head = session.get(AuditChainHead, CHAIN_HEAD_ID)
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != expected_prev):
        problems.append(
            ChainProblem(
                head.last_seq,
                "truncated",
                f"the chain head names record {head.last_seq}, the log ends at "
                f"{expected_seq - 1} (records removed from the end)",
            )
        )
    return ChainVerification(records_checked=checked, problems=tuple(problems))
