"""Keyset paging: one page of any list in its own order, and the cursor of the next.

Why cursors and not offsets: see :mod:`services.schemas.common`. A list's order is an
:class:`Ordering`, a named tuple of sort keys whose last key is unique, so the order is total
and "the items after this one" is well defined. A cursor is the sort-key values of a page's
last item (and the list's name, so the cursor of one list is refused by another), as URL-safe
base64 of JSON. It is opaque to clients: nothing promises what is inside.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from services.schemas.common import MAX_ID, Page
from worklist.errors import ValidationError

T = TypeVar("T")

KeyKind = Literal["int", "str", "time"]
AnySelect = Select[*tuple[Any, ...]]
"""A SELECT of any columns."""
_MAX_TEXT_KEY = 100  # the longest text key is an audit event id (36) or a code (32)


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column of a list's order, and the kind of value it carries in a cursor."""

    column: ColumnElement[Any] | QueryableAttribute[Any]
    kind: KeyKind
    descending: bool = False

    def check(self, value: object) -> object:
        """``value`` read back from a cursor, as the column compares it; ValueError if it is not
        a value of this kind."""
        if self.kind == "int":
            if type(value) is not int or not -MAX_ID - 1 <= value <= MAX_ID:
                raise ValueError("not an integer key")
            return value
        if not isinstance(value, str) or len(value) > _MAX_TEXT_KEY:
            raise ValueError("not a text key")
        if self.kind == "str":
            return value
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a time without its UTC offset")
        return moment.astimezone(UTC)  # OverflowError near the ends of the calendar

    def encoded(self, value: Any) -> object:
        """``value`` as the cursor's JSON carries it."""
        if self.kind == "time":
            moment: datetime = value  # the columns keep UTC (worklist.models.base.UTCDateTime)
            aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            return aware.astimezone(UTC).isoformat()
        return value


@dataclass(frozen=True, slots=True)
class Ordering:
    """A list's total order (the last key unique), named for its cursors."""

    name: str
    keys: tuple[SortKey, ...]

    def order_by(self) -> list[ColumnElement[Any]]:
        """The ORDER BY clauses of the list."""
        return [key.column.desc() if key.descending else key.column.asc() for key in self.keys]

    def after(self, position: Sequence[object]) -> ColumnElement[bool]:
        """Rows that come after ``position`` (the sort-key values of one row) in this order.

        Spelt out as ``k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...`` rather than a row-value
        comparison, so that descending keys and every backend work alike.
        """
        clauses: list[ColumnElement[bool]] = []
        for index, key in enumerate(self.keys):
            value = position[index]
            beyond = key.column < value if key.descending else key.column > value
            equal = [k.column == v for k, v in zip(self.keys[:index], position, strict=False)]
            clauses.append(and_(*equal, beyond))
        return or_(false(), *clauses)

    def encode(self, position: Sequence[object]) -> str:
        """The cursor naming ``position``."""
        values = [key.encoded(value) for key, value in zip(self.keys, position, strict=True)]
        raw = json.dumps([self.name, *values], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[object, ...]:
        """The position ``cursor`` names; :class:`ValidationError` (422) unless it is a cursor
        of this list that this service gave out."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            name, *values = json.loads(raw)
            if name != self.name or len(values) != len(self.keys):
                raise ValueError("a cursor of another list")
            return tuple(key.check(value) for key, value in zip(self.keys, values, strict=True))
        except (binascii.Error, TypeError, ValueError, OverflowError) as exc:
            raise ValidationError(
                f"cursor: not a cursor of this list ({self.name}) that this service gave out"
            ) from exc


def count_of(session: Session, query: AnySelect) -> int:
    """How many rows ``query`` answers (over all pages)."""
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def read_page(
    session: Session,
    query: AnySelect,
    *,
    order: Ordering,
    limit: int,
    cursor: str | None,
    item: Callable[..., T],
    counted: bool = True,
) -> Page[T]:
    """One page of ``query`` (no ORDER BY of its own) in ``order``, from ``cursor`` on.

    ``item`` is called with the columns of each row and gives what the page shows; ``counted``
    says whether the page tells the total (one COUNT over the filtered query).
    """
    after = order.decode(cursor) if cursor is not None else None
    width = len(order.keys)
    keyed = query.add_columns(
        *(key.column.label(f"page_key_{index}") for index, key in enumerate(order.keys))
    )
    if after is not None:
        keyed = keyed.where(order.after(after))
    rows = session.execute(keyed.order_by(*order.order_by()).limit(limit + 1)).all()
    shown = rows[:limit]
    following = order.encode(tuple(shown[-1])[-width:]) if len(rows) > limit else None
    return Page(
        items=[item(*tuple(row)[:-width]) for row in shown],
        limit=limit,
        next=following,
        total=count_of(session, query) if counted else None,
    )
