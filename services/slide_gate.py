"""The per-tile check in one query: the session a token names and the slide's access facts.

A viewer asks for hundreds of tiles a minute, each of which must see a session ended or a case
reassigned at once (no window in which an old answer holds). So each tile runs one statement,
compiled once per app (:class:`worklist.prepared.PreparedSelect`): the session with its
account (:meth:`SessionService.signed_in_query`), outer-joined to the slide and its case, with
the facts the access rule needs as correlated ``EXISTS`` columns over the account's own ids.
Plain rows, no ORM objects; the rule itself is :func:`services.access.basis_for`, the same as
for every other route.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam

from services.access import (
    SlideAccess,
    ViewLog,
    slide_access_columns,
    slide_access_from_row,
    slide_to_case_joins,
)
from services.identity import AuthenticatedUser
from services.sessions import SessionService
from worklist.models import Slide, UserAccount
from worklist.models.base import UTCDateTime
from worklist.prepared import PreparedSelect
from worklist.sessions import hash_token

__all__ = ["SlideGate"]


class SlideGate:
    """Checks a token and a slide together (a refusal audited once per session)."""

    def __init__(self, *, engine: Engine, sessions: SessionService, views: ViewLog) -> None:
        self._engine = engine
        self._sessions = sessions
        self._views = views
        self._query = PreparedSelect(engine, _gate_query(sessions.signed_in_query()))

    def open(
        self, connection: Connection, token: str, slide_id: int, now: datetime | None = None
    ) -> tuple[AuthenticatedUser, SlideAccess]:
        """The user behind ``token`` and their access to ``slide_id``: 401 for a session that
        is over, 404 for no such slide, an audited 403 for a slide they may not see."""
        moment = now or datetime.now(UTC)
        row = self._query.first(
            connection, {"token_hash": hash_token(token), "slide_id": slide_id, "now": moment}
        )
        user = self._sessions.signed_in(row, moment)
        access = slide_access_from_row(row, user, slide_id, engine=self._engine, views=self._views)
        return user, access


def _gate_query(signed_in: Select[Any]) -> Select[Any]:
    columns = slide_access_columns(
        user_id=UserAccount.id,
        pathologist_id=UserAccount.pathologist_id,
        now=bindparam("now", type_=UTCDateTime()),
    )
    query = signed_in.add_columns(*columns).outerjoin(Slide, Slide.id == bindparam("slide_id"))
    for table, on in slide_to_case_joins():
        query = query.outerjoin(table, on)
    return query
