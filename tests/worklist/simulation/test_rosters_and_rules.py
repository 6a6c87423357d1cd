"""Rosters bind in the simulation, and the policies' rule variants change what the engine does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from tests.worklist.simulation.scenario import START, person, region
from worklist.engine import SecondReadRule
from worklist.enums import AssignmentKind, Priority
from worklist.errors import ValidationError
from worklist.roster import Absence, Roster
from worklist.simulation.arrivals import Arrival
from worklist.simulation.model import simulate
from worklist.simulation.policies import POLICIES
from worklist.simulation.results import policy_result


def _arrival(day: date, group: str = "breast", **changes: object) -> Arrival:
    arrival = Arrival(
        department="AAA",
        patient=f"PSN-{day.isoformat()}-{group}",
        subspecialty=group,
        category=2,
        priority=Priority.ROUTINE,
        received_at=datetime.combine(day, time(9, 0), tzinfo=UTC),
    )
    return replace(arrival, **changes)  # type: ignore[arg-type]


def test_nobody_works_on_easter_or_when_absent() -> None:
    """Received Thursday 17 April 2025: Good Friday and Easter Monday are public holidays and
    the pathologist is on leave on Tuesday 22nd, so Wednesday's round gives the case out."""
    absent = replace(
        person("AAA-01", "AAA", "breast"),
        roster=Roster(frozenset(range(5)), (Absence(date(2025, 4, 22), date(2025, 4, 22)),)),
    )
    the_region = region(absent)
    run = simulate(
        the_region, [_arrival(date(2025, 4, 17))], POLICIES["regional"], start=START, weeks=8
    )
    (booking,) = run.bookings
    assert booking.day == date(2025, 4, 23)
    signed = run.cases[0].signed_out_at
    assert signed is not None and signed.date() == date(2025, 4, 23)


def test_a_part_timer_works_only_on_their_days() -> None:
    """Mondays and Thursdays only: a case received on Monday waits for Thursday's round; the
    day's capacity is the weekly 0.4 FTE over two days, a full day's 273.9 minutes."""
    part_timer = replace(
        person("AAA-01", "AAA", "breast", fte=0.4), roster=Roster(frozenset({0, 3}))
    )
    run = simulate(
        region(part_timer), [_arrival(START)], POLICIES["regional"], start=START, weeks=1
    )
    assert [b.day for b in run.bookings] == [date(2025, 3, 6)]


def test_a_wider_escalation_group_reaches_the_general_pool() -> None:
    """Nobody reports lung; the general pool may take lung only under wide-escalation."""
    the_region = region(person("AAA-01", "AAA", "general"))
    arrivals = [_arrival(START, "lung")]
    regional, wide = (
        simulate(the_region, arrivals, POLICIES[name], start=START, weeks=1)
        for name in ("regional", "wide-escalation")
    )
    assert regional.bookings == () and regional.cases[0].signed_out_at is None
    assert [(b.pathologist_id, b.rule) for b in wide.bookings] == [(1, "general-pool")]
    assert wide.cases[0].signed_out_at is not None


def test_early_escalation_sends_an_urgent_case_past_todays_capacity() -> None:
    """An urgent case (due in 2 working days, Wednesday 07:00) when earlier urgent ones fill the
    only breast pathologist's day: with the 24-hour horizon it waits for Tuesday's round; with
    72 hours it escalates on Monday, past the day's capacity."""
    the_region = region(replace(person("AAA-01", "AAA", "breast"), max_open_minutes=5000.0))
    filler = [
        _arrival(
            START,
            patient=f"PSN-fill-{n}",
            category=6,
            priority=Priority.URGENT,
            received_at=datetime(2025, 3, 3, 6, n, tzinfo=UTC),
        )
        for n in range(3)
    ]  # 3 x 86 = 258 of the day's 273.9 minutes
    urgent = _arrival(
        START,
        patient="PSN-urgent",
        category=3,  # 20 minutes: 258 + 20 > 273.9
        priority=Priority.URGENT,
        received_at=datetime(2025, 3, 3, 7, 0, tzinfo=UTC),
    )
    arrivals = [*filler, urgent]
    for name, day, rule in (
        ("regional", date(2025, 3, 4), "local-capacity"),
        ("early-escalation", date(2025, 3, 3), "escalation"),
    ):
        run = simulate(the_region, arrivals, POLICIES[name], start=START, weeks=1)
        (booking,) = [b for b in run.bookings if b.case_id == 4]
        assert (booking.day, booking.rule) == (day, rule), name


def test_a_mandatory_second_read_goes_to_another_site_only_when_shared() -> None:
    """AAA has no one experienced in breast: alone, the second read is never given and the case
    never signed out; shared, BBB's experienced pathologist reads it, 19 km away."""
    rules = region().rules
    the_region = replace(
        region(
            person("AAA-01", "AAA", "breast"),
            replace(person("BBB-01", "BBB", "breast"), experienced_in=("breast",)),
        ),
        rules=replace(
            rules,
            second_reads=(SecondReadRule("breast", "atypia", "atypia", experienced_in="breast"),),
        ),
    )
    arrivals = [_arrival(START, second_read_trigger="atypia")]
    local, regional = (
        simulate(the_region, arrivals, POLICIES[name], start=START, weeks=1)
        for name in ("local", "regional")
    )
    assert local.cases[0].signed_out_at is None
    assert [(b.pathologist_id, b.kind) for b in regional.bookings] == [
        (1, AssignmentKind.PRIMARY),
        (2, AssignmentKind.SECOND_OPINION),
    ]
    assert regional.cases[0].signed_out_at is not None
    result = policy_result(regional, the_region)
    assert (result["moved_cases"], result["moved_second_reads"]) == (0, 1)
    assert result["travel_km_second_reads"] == 19.0
    assert policy_result(local, the_region)["pct_within_target"] == 0.0


def test_arrivals_out_of_order_are_refused() -> None:
    late, early = _arrival(date(2025, 3, 4)), _arrival(START)
    with pytest.raises(ValidationError, match="sorted by receipt"):
        simulate(region(), [late, early], POLICIES["local"], start=START, weeks=1)
