"""Checking the log: the sealed chain link by link, the records not yet sealed by content."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.audit.hashing import GENESIS_HASH, compute_content_hash, compute_hash
from worklist.audit.sealing import CHAIN_HEAD_ID
from worklist.models import AuditChainHead, AuditEvent


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One inconsistency: the record it shows at (its ``seq``), what and how."""

    seq: int
    kind: str  # "edited", "broken_link", "gap", "truncated", "unsealed"
    message: str


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Result of :func:`verify_audit_chain`: records checked (``unsealed`` of them not yet in
    the chain) and what was found."""

    records_checked: int
    problems: tuple[ChainProblem, ...] = field(default_factory=tuple)
    unsealed: int = 0

    @property
    def ok(self) -> bool:
        """True when the log is intact."""
        return not self.problems


def verify_audit_chain(
    session: Session, *, unsealed_before: datetime | None = None, batch_size: int = 1000
) -> ChainVerification:
    """Walk the whole log and report every edited, missing or moved record.

    Sealed records are walked in chain order; records not yet sealed are checked against
    their content hash, and with ``unsealed_before`` each one that occurred before that moment
    is reported too (the sealer should have chained it by then: is it running?).
    """
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    expected_chain_seq = 1
    last_seq = 0
    sealed = 0
    for event in _records(session, sealed=True, batch_size=batch_size):
        sealed += 1
        assert event.chain_seq is not None  # the query's condition
        if event.chain_seq != expected_chain_seq:
            problems.append(
                ChainProblem(
                    event.seq,
                    "gap",
                    f"record {event.seq}: expected chain position {expected_chain_seq}, "
                    f"found {event.chain_seq}",
                )
            )
        if compute_hash(event) != event.record_hash or (
            event.content_hash is not None and compute_content_hash(event) != event.content_hash
        ):
            problems.append(
                ChainProblem(event.seq, "edited", f"record {event.seq} does not match its hash")
            )
        if event.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    event.seq,
                    "broken_link",
                    f"record {event.seq} does not follow the record before it in the chain "
                    "(deleted, inserted or reordered records)",
                )
            )
        expected_prev = event.record_hash or ""
        expected_chain_seq = event.chain_seq + 1
        last_seq = event.seq
    head = session.get(AuditChainHead, CHAIN_HEAD_ID)
    if head is not None and (
        head.last_seq != expected_chain_seq - 1 or head.last_hash != expected_prev
    ):
        problems.append(
            ChainProblem(
                last_seq,
                "truncated",
                f"the chain head names position {head.last_seq}, the chain ends at "
                f"{expected_chain_seq - 1} (records removed from the end, or added past it)",
            )
        )
    unsealed = 0
    for event in _records(session, sealed=False, batch_size=batch_size):
        unsealed += 1
        problems.extend(_unsealed_problems(event, unsealed_before))
    return ChainVerification(
        records_checked=sealed + unsealed, problems=tuple(problems), unsealed=unsealed
    )


def _records(session: Session, *, sealed: bool, batch_size: int) -> Iterator[AuditEvent]:
    if sealed:
        query = select(AuditEvent).where(AuditEvent.chain_seq.is_not(None))
        query = query.order_by(AuditEvent.chain_seq)
    else:
        query = select(AuditEvent).where(AuditEvent.chain_seq.is_(None))
        query = query.order_by(AuditEvent.seq)
    for event in session.scalars(query.execution_options(yield_per=batch_size)):
        yield event
        session.expunge(event)


def _unsealed_problems(event: AuditEvent, unsealed_before: datetime | None) -> list[ChainProblem]:
    problems = []
    if event.content_hash is None or compute_content_hash(event) != event.content_hash:
        # Only records sealed before revision 0005 lack a content hash, and they are sealed.
        problems.append(
            ChainProblem(event.seq, "edited", f"record {event.seq} does not match its hash")
        )
    if event.prev_hash is not None or event.record_hash is not None:
        problems.append(
            ChainProblem(
                event.seq,
                "broken_link",
                f"record {event.seq} was sealed but has lost its place in the chain",
            )
        )
    if unsealed_before is not None and event.occurred_at < unsealed_before:
        problems.append(
            ChainProblem(
                event.seq,
                "unsealed",
                f"record {event.seq} ({event.occurred_at.isoformat(timespec='seconds')}) "
                "is not sealed into the chain yet",
            )
        )
    return problems
