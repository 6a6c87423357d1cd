"""What an audit record's two hashes cover, in one fixed byte form."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from worklist.enums import AuditAction, AuditOutcome
from worklist.models import AuditEvent

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record in the chain."""


def _content(event: AuditEvent) -> dict[str, Any]:
    """Every field that says what happened (not where the record sits in the log)."""
    occurred_at = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    return {
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
    }


def _encode(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_content(event: AuditEvent) -> bytes:
    """The bytes ``record_hash`` covers: the content, ``seq`` and ``prev_hash``.

    The same bytes as before revision 0005 (when ``seq`` was also the chain position), so
    records sealed then keep verifying. ``chain_seq`` is not covered: its numbering is checked
    to be dense, and any move breaks a ``prev_hash`` link.
    """
    return _encode({**_content(event), "seq": event.seq, "prev_hash": event.prev_hash})


def compute_hash(event: AuditEvent) -> str:
    """``record_hash``: sha256 (hex) of :func:`canonical_content`."""
    return hashlib.sha256(canonical_content(event)).hexdigest()


def compute_content_hash(event: AuditEvent) -> str:
    """``content_hash``: sha256 (hex) of the content alone, known before the record is
    inserted (neither its ``seq`` nor its place in the chain is)."""
    return hashlib.sha256(_encode(_content(event))).hexdigest()
