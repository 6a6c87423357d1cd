"""One shape for every operation: the work in a transaction, then its record or its refusal's.

An operation names its audit event once (``event_type``, ``action`` and the case it is about).
:func:`run_audited` runs the work in one transaction and hands it a :class:`Recorder` that
writes the success record under that name; when the work is refused, the refusal is recorded
under the same name (:mod:`worklist.operations._refusals`), so the two cannot drift apart.
The work writes its record last and builds its receipt after it (the record's flush brings
the case's version up to date). Writing a record takes no lock (:mod:`worklist.audit`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import AuditEntry, record_events
from worklist.db import run_in_transaction
from worklist.enums import AuditAction
from worklist.models import Case
from worklist.operations._common import utc_now
from worklist.operations._refusals import audit_refusal

T = TypeVar("T")


class Recorder:
    """Writes one operation's success records, under its event name, at ``moment``."""

    def __init__(
        self,
        session: Session,
        *,
        actor: Actor,
        event_type: str,
        action: AuditAction,
        moment: datetime,
    ) -> None:
        self.session = session
        self.actor = actor
        self.event_type = event_type
        self.action = action
        self.moment = moment

    def entry(
        self,
        *,
        case: Case | None = None,
        slide_id: int | None = None,
        site: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """A success record of this operation, for :meth:`write`."""
        return AuditEntry(
            self.event_type, self.action, case=case, slide_id=slide_id, site=site, detail=detail
        )

    def record(
        self,
        *,
        case: Case | None = None,
        slide_id: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Write this operation's success record (last in the work)."""
        self.write(self.entry(case=case, slide_id=slide_id, detail=detail))

    def write(self, *entries: AuditEntry) -> None:
        """Write records in one insert: a batch of this operation's, or its own followed by
        what it did on the side (a grant given with a consult)."""
        if entries:
            record_events(self.session, actor=self.actor, entries=entries, now=self.moment)


def run_audited(
    engine: Engine,
    actor: Actor,
    event_type: str,
    work: Callable[[Session, Recorder], T],
    /,
    *,
    action: AuditAction = AuditAction.UPDATE,
    case_id: int | None = None,
    check: Callable[[], None] | None = None,
    now: datetime | None = None,
) -> T:
    """Run ``work`` in one transaction as ``actor`` and return what it returns; the event is
    named once, here (``run_audited(engine, actor, "case.claim", work, case_id=...)``).

    ``check`` runs first, outside the transaction (a permission check). A refusal by either is
    recorded under ``event_type`` against ``case_id`` and raised on.
    """

    def transaction(session: Session) -> T:
        recorder = Recorder(
            session, actor=actor, event_type=event_type, action=action, moment=utc_now(now)
        )
        return work(session, recorder)

    with audit_refusal(
        engine=engine,
        actor=actor,
        event_type=event_type,
        action=action,
        case_id=case_id,
        now=now,
    ):
        if check is not None:
            check()
        return run_in_transaction(engine, transaction)
