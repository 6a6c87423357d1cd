"""Policies as data: what each one shows the engine, and how a list of them is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worklist.engine import CaseSnapshot, PathologistSnapshot, RuleSet, Snapshot
from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.simulation.policies import POLICIES, parse_policies
from worklist.simulation.travel import SAME_CITY_KM, road_km

NOW = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)


def _case(case_id: int, department: str, patient: str) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=case_id,
        accession=f"SIM-{case_id}",
        department=department,
        patient=patient,
        subspecialty="breast",
        category=2,
        priority=Priority.ROUTINE,
        received_at=NOW - timedelta(hours=1),
        due_at=NOW + timedelta(days=7),
    )


def _person(pathologist_id: int, department: str) -> PathologistSnapshot:
    return PathologistSnapshot(
        pathologist_id=pathologist_id,
        name=f"dr. {pathologist_id}",
        department=department,
        subspecialties=frozenset({"breast"}),
        fte=1.0,
        max_open_minutes=2000.0,
        capacity_today_minutes=270.0,
    )


SNAPSHOT = Snapshot(
    NOW,
    (_case(1, "AAA", "PSN-1"), _case(2, "BBB", "PSN-1"), _case(3, "AAA", "PSN-2")),
    (_person(1, "AAA"), _person(2, "BBB")),
)


def test_local_shows_each_department_its_own_cases_and_people() -> None:
    parts = POLICIES["local"].snapshots(SNAPSHOT)
    assert [
        ([c.case_id for c in p.cases], [q.pathologist_id for q in p.pathologists]) for p in parts
    ] == [
        ([1, 3], [1]),
        ([2], [2]),
    ]
    assert all(p.now == NOW and p.rules == SNAPSHOT.rules for p in parts)


def test_regional_shows_the_region_as_is() -> None:
    assert POLICIES["regional"].snapshots(SNAPSHOT) == [SNAPSHOT]
    base = RuleSet(general_pool_fallback=frozenset({"urology"}))
    assert POLICIES["regional"].rules(base, frozenset({"breast"})) is base


def test_no_continuity_gives_every_case_a_patient_of_its_own() -> None:
    (part,) = POLICIES["no-continuity"].snapshots(SNAPSHOT)
    assert [c.patient for c in part.cases] == ["case-1", "case-2", "case-3"]
    assert [c.case_id for c in part.cases] == [1, 2, 3]


def test_the_escalation_variants_change_one_rule() -> None:
    base = RuleSet(general_pool_fallback=frozenset({"urology"}))
    groups = frozenset({"breast", "urology", "lung"})
    wide = POLICIES["wide-escalation"].rules(base, groups)
    assert wide.general_pool_fallback == groups
    assert wide.escalation_horizon == base.escalation_horizon
    early = POLICIES["early-escalation"].rules(base, groups)
    assert early.escalation_horizon == timedelta(hours=72)
    assert early.general_pool_fallback == base.general_pool_fallback
    assert early.second_reads == base.second_reads


def test_policies_are_read_in_the_order_given() -> None:
    assert [p.name for p in parse_policies(" regional, local ,no-continuity")] == [
        "regional",
        "local",
        "no-continuity",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("local,teleport", "unknown policy 'teleport'; choose from local, local-generalist"),
        (" , ", "no policy given"),
        ("local,local", "named twice"),
    ],
)
def test_bad_policy_lists_are_refused_with_why(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_policies(text)


def test_road_distances() -> None:
    assert road_km("Den Haag", "Leiden") == road_km("Leiden", "Den Haag") == 19.0
    assert road_km("Den Haag", "Den Haag") == SAME_CITY_KM
    assert road_km("Den Haag", "Maastricht") is None
    assert road_km("", "") is None


def test_local_generalist_is_local_with_the_general_pool_for_every_group() -> None:
    policy = POLICIES["local-generalist"]
    assert policy.snapshots(SNAPSHOT) == POLICIES["local"].snapshots(SNAPSHOT)
    base = RuleSet(general_pool_fallback=frozenset({"urology"}))
    assert policy.rules(base, frozenset({"breast"})).general_pool_fallback == {
        "urology",
        "breast",
    }
