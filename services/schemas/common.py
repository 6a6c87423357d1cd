"""Building blocks shared by the request and response bodies: bounded ids, text, pages.

Every list the API answers is one :class:`Page`: ``items``, ``limit``, ``next`` and ``total``,
asked for with the query parameters ``limit`` and ``cursor`` (the ``next`` of the page before).
Cursors rather than offsets, for every list, because the lists change while someone reads
them: a claimed case leaves the unassigned worklist, a new record joins the audit log (reading
it writes one). An offset then shifts, and the reader misses or repeats items; a cursor names
the last item shown and the next page starts right after it in the list's own order (keyset
paging, :mod:`services.paging`), so an item that stays in the list is shown exactly once. It
also costs the same on the thousandth page as on the first. ``total`` counts the items over all
pages where that is cheap, and is null where it is not (the audit log: millions of records).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

# SQLite and PostgreSQL keys are signed 64-bit: larger numbers are refused at the edge.
MAX_ID = 2**63 - 1
# No control characters but tab and newlines: PostgreSQL refuses NUL in text, and nobody
# types the others on purpose.
_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# One printable line: no control characters at all.
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
# Times the worklist can compute with (due dates are days after receipt; year 9999 overflows).
EARLIEST_YEAR = 1970
LATEST_YEAR = 2200

T = TypeVar("T")

RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_ID,
        description="The case version you read; a different current version answers 409.",
    ),
]
DepartmentCode = Annotated[
    str, Field(min_length=2, max_length=16, pattern=r"^[A-Z][A-Z0-9-]{1,15}$")
]
PathologistCode = Annotated[
    str, Field(min_length=2, max_length=32, pattern=r"^[A-Z][A-Z0-9-]{1,31}$")
]
AccessionNumber = Annotated[
    str,
    Field(
        max_length=32,
        pattern=r"^[A-Z][A-Z0-9]{1,7}-[TCO][0-9]{2}-[0-9]{1,7}$",
        description="SITE-T25-00001: site, T/C/O (histology/cytology/other), year, sequence.",
    ),
]


def text(min_length: int, max_length: int, *, multiline: bool = False) -> Any:
    """A ``Field`` for free text of bounded length without control characters."""
    return Field(
        min_length=min_length,
        max_length=max_length,
        pattern=_NO_CONTROL if multiline else _ONE_LINE,
    )


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"a time must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    return moment


UtcTime = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A timestamp with its UTC offset (naive times are refused), in a sane range."""


class RequestBody(BaseModel):
    """The base of every request body: a field the schema does not name is refused (422).

    A misspelt or guessed field (``{"conclusion": ...}``) is an error the sender must see,
    not something silently dropped.
    """

    model_config = ConfigDict(extra="forbid")


DEFAULT_PAGE_LIMIT = 100
"""Items per page when a list request names no ``limit``."""
MAX_PAGE_LIMIT = 200
"""The most items a page may hold (the audit log allows more: ``schemas.audit``)."""
CURSOR_MAX_LENGTH = 200
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
"""A cursor is URL-safe base64 without padding; anything else is refused before decoding."""


class Page(BaseModel, Generic[T]):
    """One page of a list, the one shape of every list: send ``next`` back as ``cursor`` for
    the page after (null on the last page)."""

    items: list[T]
    limit: int = Field(description="The most items a page holds (as asked, or the default).")
    next: str | None = Field(
        description="Opaque: pass it as the cursor parameter for the next page; null at the end."
    )
    total: int | None = Field(
        description="How many items match over all pages; null where counting is not cheap."
    )
