"""Keyset paging on a real (SQLite) table: every row once, in order, whatever the ties; and
cursors that only their own list accepts."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)
from sqlalchemy.orm import Session

from services.paging import Ordering, SortKey, read_page
from worklist.errors import ValidationError
from worklist.models.base import UTCDateTime

metadata = MetaData()
things = Table(
    "thing",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("name", String(20), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
)
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
BY_RANK_AND_DUE = Ordering(
    "things",
    (
        SortKey(things.c.rank, "int"),
        SortKey(things.c.due_at, "time"),
        SortKey(things.c.id, "int"),
    ),
)
NEWEST_NAME_FIRST = Ordering(
    "things.by_name", (SortKey(things.c.name, "str", descending=True), SortKey(things.c.id, "int"))
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    rows = [
        {"id": n, "rank": n % 3, "name": f"n{n % 4}", "due_at": START + timedelta(hours=n % 2)}
        for n in range(1, 24)
    ]
    with engine.begin() as connection:
        connection.execute(insert(things), rows)
    yield engine
    engine.dispose()


def every_page(engine: Engine, order: Ordering, limit: int) -> tuple[list[int], list[Any]]:
    """The ids, page after page, and the totals the pages told."""
    ids: list[int] = []
    totals: list[Any] = []
    cursor: str | None = None
    with Session(engine) as session:
        while True:
            page = read_page(
                session,
                select(things.c.id).where(things.c.id != 7),
                order=order,
                limit=limit,
                cursor=cursor,
                item=lambda thing_id: thing_id,
            )
            assert len(page.items) <= limit
            ids.extend(page.items)
            totals.append(page.total)
            if page.next is None:
                return ids, totals
            cursor = page.next


@pytest.mark.parametrize("order", [BY_RANK_AND_DUE, NEWEST_NAME_FIRST], ids=lambda o: o.name)
@pytest.mark.parametrize("limit", [1, 2, 5, 22, 100])
def test_pages_show_every_row_once_in_the_lists_order(
    engine: Engine, order: Ordering, limit: int
) -> None:
    with Session(engine) as session:
        everything = list(
            session.scalars(select(things.c.id).where(things.c.id != 7).order_by(*order.order_by()))
        )
    ids, totals = every_page(engine, order, limit)
    assert ids == everything
    assert set(totals) == {22}


def test_a_row_added_before_the_cursor_does_not_shift_the_next_page(engine: Engine) -> None:
    with Session(engine) as session:
        query = select(things.c.id)
        first = read_page(session, query, order=BY_RANK_AND_DUE, limit=3, cursor=None, item=int)
        session.execute(insert(things).values(id=100, rank=-1, name="x", due_at=START))
        second = read_page(
            session, query, order=BY_RANK_AND_DUE, limit=3, cursor=first.next, item=int
        )
        fresh = read_page(session, query, order=BY_RANK_AND_DUE, limit=7, cursor=None, item=int)
    assert first.items + second.items == fresh.items[1:]  # the new first row, then as before


def _forged(*parts: object) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWEtY3Vyc29y",  # base64, not JSON
        "!!!",
        _forged("things.by_name", "n1", 3),  # another list's
        _forged("things", 1, "2025-03-03T09:00:00+00:00"),  # a key short
        _forged("things", "1", "2025-03-03T09:00:00+00:00", 3),  # text for a number
        _forged("things", True, "2025-03-03T09:00:00+00:00", 3),
        _forged("things", 2**63, "2025-03-03T09:00:00+00:00", 3),
        _forged("things", 1, "2025-03-03T09:00:00", 3),  # a time without its offset
        _forged("things", 1, "9999-12-31T23:59:59-05:00", 3),  # past the end of UTC
        _forged("things", 1, "x" * 500, 3),
        _forged({"things": 1}),
    ],
)
def test_a_cursor_not_given_out_for_this_list_is_refused(engine: Engine, cursor: str) -> None:
    with Session(engine) as session, pytest.raises(ValidationError, match="cursor"):
        read_page(
            session, select(things.c.id), order=BY_RANK_AND_DUE, limit=2, cursor=cursor, item=int
        )


def test_times_in_cursors_compare_in_utc(engine: Engine) -> None:
    amsterdam = timezone(timedelta(hours=1))
    position = (1, (START + timedelta(hours=1)).astimezone(amsterdam), 1)
    cursor = BY_RANK_AND_DUE.encode(position)
    assert BY_RANK_AND_DUE.decode(cursor) == (1, START + timedelta(hours=1), 1)
    with Session(engine) as session:
        page = read_page(
            session,
            select(things.c.id),
            order=BY_RANK_AND_DUE,
            limit=100,
            cursor=cursor,
            item=int,
            counted=False,
        )
    assert page.total is None
    assert page.items[:3] == [7, 13, 19]  # rank 1, due at START + 1 h, after id 1
