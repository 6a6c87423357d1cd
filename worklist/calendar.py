"""Dutch public holidays, per year, from the maintained ``holidays`` library.

A lab closes on these days, so a roster counts no pathologist as present on them (see
``worklist.roster.Roster.is_working``). The table comes from the library, not from a list
kept here, so a new year or a moved King's Day needs no change in Coupe.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType

import holidays

COUNTRY = "NL"


@lru_cache(maxsize=64)
def _year(year: int) -> Mapping[date, str]:
    # Cached per year: the engine asks for every pathologist of a round.
    table = holidays.country_holidays(COUNTRY, years=year, language="en_US")
    return MappingProxyType({day: str(name) for day, name in sorted(table.items())})


def public_holidays(year: int) -> Mapping[date, str]:
    """The public holidays of ``year`` in the Netherlands: date -> English name."""
    return _year(year)


def public_holiday(day: date) -> str | None:
    """The holiday's name if ``day`` is a Dutch public holiday, else None."""
    return _year(day.year).get(day)
