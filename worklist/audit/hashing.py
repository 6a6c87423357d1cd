"""What an audit record's two hashes cover, in one fixed byte form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from worklist.enums import AuditAction, AuditOutcome
from worklist.models import AuditEvent

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record in the chain."""


CONTENT_FIELDS = (
    "event_id",
    "occurred_at",
    "event_type",
    "action",
    "outcome",
    "user_id",
    "role",
    "on_behalf_of",
    "purpose_of_use",
    "site",
    "patient_pseudonym",
    "case_id",
    "accession_number",
    "slide_id",
    "break_glass",
    "detail",
)
"""The columns that say what happened (not where the record sits in the log)."""


def content_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The content of a record given as column values, in the form the hashes cover."""
    content = {name: values[name] for name in CONTENT_FIELDS}
    content["occurred_at"] = (
        values["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    )
    content["action"] = AuditAction(values["action"]).value
    content["outcome"] = AuditOutcome(values["outcome"]).value
    content["break_glass"] = bool(values["break_glass"])
    return content


def _content(event: AuditEvent) -> dict[str, Any]:
    return content_of({name: getattr(event, name) for name in CONTENT_FIELDS})


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
    return content_hash_of(_content(event))


def content_hash_of(content: Mapping[str, Any]) -> str:
    """``content_hash`` of :func:`content_of`'s result."""
    return hashlib.sha256(_encode(dict(content))).hexdigest()
