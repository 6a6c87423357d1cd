"""NEN 7513 audit logging: records appended without a lock, sealed into one hash chain.

Writing. :func:`record_events` inserts a record in the caller's transaction and takes no lock
anyone else waits for: the database numbers it (``seq``, autoincrement) and the record carries
``content_hash``, sha256 over its content, so an edit made before sealing still shows.

Sealing. :func:`seal_pending` (the CLI's and tests' entry point; an :class:`AuditSealer`
thread calls it in every ``coupe serve`` process) takes the chain head row
(``SELECT ... FOR UPDATE``; on SQLite the write lock) and gives the oldest unsealed records,
in ``seq`` order, the next ``chain_seq`` positions, each its ``prev_hash`` (the record before
it in the chain) and ``record_hash`` = sha256 over content, ``seq`` and ``prev_hash``. Only
sealers wait for that lock, each for one short batch, so any number of processes sealing at
once still form one chain.

Order. The chain is in sealing order, which is commit order give or take a batch; ``seq`` is
insertion order. The two differ on PostgreSQL, where ids come from a sequence outside any
transaction: seq 10 may commit after seq 11. A sealer that kept a "sealed up to seq N" mark
would skip seq 10 forever, and one that sealed strictly in seq order would have to know that
no smaller seq is still in flight, which neither a grace period (a transaction may stay open
longer) nor the list of open transactions (an id is drawn before its transaction has one)
tells for certain. So the sealer keeps no mark: it picks the records whose ``chain_seq`` is
NULL (an index lookup), and a late committer is simply sealed by the next batch. Nothing
depends on clocks, and no committed record can be passed over.

Checking. :func:`verify_audit_chain` walks the chain in ``chain_seq`` order: an edited record
fails its hashes, a deleted or moved one breaks the next ``prev_hash`` link or the dense
``chain_seq`` numbering, a cut-off tail no longer reaches the chain head. Records not yet sealed
are checked against their ``content_hash``, and reported when older than a given moment (a
sealer that stopped). Records sealed before revision 0005 have no ``content_hash``; their
``record_hash`` uses the same formula (then ``seq`` and ``chain_seq`` were one number).

The database's own triggers refuse every UPDATE and DELETE on ``audit_event`` except the
sealer's one-time filling of the chain columns.
"""

from __future__ import annotations

from worklist.audit.hashing import (
    GENESIS_HASH,
    canonical_content,
    compute_content_hash,
    compute_hash,
)
from worklist.audit.records import AuditEntry, record_event, record_events
from worklist.audit.sealing import AuditSealer, seal_pending
from worklist.audit.verify import ChainProblem, ChainVerification, verify_audit_chain

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditSealer",
    "ChainProblem",
    "ChainVerification",
    "canonical_content",
    "compute_content_hash",
    "compute_hash",
    "record_event",
    "record_events",
    "seal_pending",
    "verify_audit_chain",
]
