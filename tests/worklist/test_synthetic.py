"""The synthetic generator: deterministic, with the weekday, season and mix shapes."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from worklist.enums import CaseType
from worklist.synthetic import case_stream, synthetic_region


def test_same_seed_same_region_and_stream() -> None:
    assert synthetic_region(60, seed=3) == synthetic_region(60, seed=3)
    assert synthetic_region(60, seed=3) != synthetic_region(60, seed=4)
    a = case_stream(start=date(2025, 3, 3), days=7, seed=9)
    assert a == case_stream(start=date(2025, 3, 3), days=7, seed=9)
    assert a != case_stream(start=date(2025, 3, 3), days=7, seed=10)


def test_region_covers_every_department() -> None:
    region = synthetic_region(200, seed=1)
    assert len(region.pathologists) == 200
    assert {p.department for p in region.pathologists} == {d.code for d in region.departments}
    assert len({p.code for p in region.pathologists}) == 200


@pytest.mark.slow
def test_arrivals_follow_weekday_and_season() -> None:
    stream = case_stream(start=date(2025, 1, 1), days=365, seed=2, cases_per_year=60_000)
    assert 50_000 < len(stream) < 70_000
    by_weekday = Counter(c.received_at.weekday() for c in stream if c.received_at)
    assert by_weekday[0] > by_weekday[4] > 5 * by_weekday[5]
    by_month = Counter(c.received_at.month for c in stream if c.received_at)
    assert by_month[8] < 0.9 * by_month[10]


def test_case_mix() -> None:
    stream = case_stream(start=date(2025, 3, 3), days=28, seed=5)
    categories = Counter(c.category for c in stream)
    assert categories[2] > categories[6] > 0
    groups = Counter(c.tumour_group for c in stream)
    assert groups.most_common(1)[0][0] in {"dermatopathology", "gastro-intestinal"}
    assert all(c.tumour_group == "cytology" for c in stream if c.case_type is CaseType.CYTOLOGY)
    assert any(c.second_read_trigger for c in stream)
    assert all(
        s.file_path for c in stream for sp in c.specimens for b in sp.blocks for s in b.slides
    )
