"""Sealing: chaining committed audit records, in batches, under the chain head's lock.

Why the sealer picks records by ``chain_seq IS NULL`` rather than from a mark, and why the
chain is in sealing order, is told in :mod:`worklist.audit`.
"""

from __future__ import annotations

import logging
import threading
from functools import partial

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from worklist.audit.hashing import compute_content_hash, compute_hash
from worklist.db import read_session, run_in_transaction
from worklist.models import AuditChainHead, AuditEvent

log = logging.getLogger(__name__)

CHAIN_HEAD_ID = 1
SEAL_BATCH_SIZE = 500
SEAL_INTERVAL_S = 0.2
"""How often a server process's sealer looks for new records: how long a record stays out of
the chain at most, under normal load."""


def seal_pending(engine: Engine, *, batch_size: int = SEAL_BATCH_SIZE) -> int:
    """Seal every record committed before the call (and any that commit meanwhile); return
    how many were sealed. Safe to run in any number of processes at once."""
    sealed = 0
    while _any_unsealed(engine):
        batch = run_in_transaction(engine, partial(_seal_batch, batch_size=batch_size))
        sealed += batch
        if batch < batch_size:
            break
    return sealed


def _any_unsealed(engine: Engine) -> bool:
    # A read first, so that an idle sealer never takes SQLite's write lock.
    with read_session(engine) as session:
        query = select(AuditEvent.seq).where(AuditEvent.chain_seq.is_(None)).limit(1)
        return session.scalar(query) is not None


def _seal_batch(session: Session, *, batch_size: int) -> int:
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == CHAIN_HEAD_ID).with_for_update()
    ).scalar_one()
    # Read after the head's lock is held: a sealer that waited for it sees the records the one
    # before it sealed (PostgreSQL's READ COMMITTED takes a new snapshot per statement).
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain_seq.is_(None))
        .order_by(AuditEvent.seq)
        .limit(batch_size)
    ).all()
    for event in events:
        if event.content_hash != compute_content_hash(event):
            # Sealed as found: the content hash keeps showing the edit to every verification.
            log.warning("audit record %d does not match its content hash", event.seq)
        event.chain_seq = head.last_seq + 1
        event.prev_hash = head.last_hash
        event.record_hash = compute_hash(event)
        head.last_seq = event.chain_seq
        head.last_hash = event.record_hash
    session.flush()
    return len(events)


class AuditSealer:
    """Runs :func:`seal_pending` every ``interval_s`` in a thread of its own, until closed."""

    def __init__(self, engine: Engine, *, interval_s: float = SEAL_INTERVAL_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sealing in the background."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread, then seal what was written up to now (a clean shutdown leaves
        nothing out of the chain)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._seal()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._seal()

    def _seal(self) -> None:
        try:
            seal_pending(self.engine)
        except Exception:  # the next round tries again; the log must not stop the service
            log.exception("sealing the audit log failed")
