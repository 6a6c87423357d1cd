"""Giving a case grant inside an operation's transaction (a consult request grants its reader).

:func:`worklist.accounts.grant_case_access` is the grant on its own; both make the grant here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import AuditEntry
from worklist.enums import AuditAction, GrantKind, Role
from worklist.errors import NotPermittedError, ValidationError
from worklist.models import Case, CaseGrant


def check_grant(actor: Actor, kind: GrantKind, reason: str) -> None:
    """Raise unless ``actor`` may give a grant of ``kind`` with ``reason``."""
    if kind is GrantKind.BREAK_GLASS and len(reason.strip()) < 10:
        raise ValidationError("break-the-glass needs a reason of at least 10 characters")
    if kind is GrantKind.CONSULT and not actor.may_manage and actor.role is not Role.PATHOLOGIST:
        raise NotPermittedError(f"{actor.user_id} may not grant consults")


def add_grant(
    session: Session,
    *,
    actor: Actor,
    case: Case,
    user_id: int,
    kind: GrantKind,
    reason: str,
    valid_for: timedelta,
    now: datetime,
) -> tuple[CaseGrant, AuditEntry]:
    """Add the grant (flushed, so it has its id) and the audit record to write for it."""
    grant = CaseGrant(
        case_id=case.id,
        user_id=user_id,
        kind=kind,
        granted_by=actor.user_id,
        reason=reason,
        granted_at=now,
        expires_at=now + valid_for,
    )
    session.add(grant)
    session.flush()
    entry = AuditEntry(
        f"case.grant.{kind.value}",
        AuditAction.CREATE,
        case=case,
        detail={"user_id": user_id, "reason": reason, "expires_at": grant.expires_at.isoformat()},
    )
    return grant, entry
