"""Ageing buckets at their edges."""

from __future__ import annotations

import itertools

import pytest

from worklist.metrics import AGE_BUCKETS, age_bucket


@pytest.mark.parametrize(
    ("age_days", "bucket"),
    [
        (-1, "0-2"),
        (0, "0-2"),
        (2, "0-2"),
        (3, "3-5"),
        (5, "3-5"),
        (6, "6-7"),
        (7, "6-7"),
        (8, "8-10"),
        (10, "8-10"),
        (11, ">10"),
        (400, ">10"),
    ],
)
def test_age_bucket_edges(age_days: int, bucket: str) -> None:
    assert age_bucket(age_days) == bucket


def test_buckets_are_contiguous() -> None:
    for (_, _, last), (_, first, _) in itertools.pairwise(AGE_BUCKETS):
        assert last is not None and first == last + 1
