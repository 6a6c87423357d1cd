"""The lab manager's figures: the open backlog by age, and the load per pathologist on a day."""

from __future__ import annotations

from worklist.metrics.backlog import (
    AGE_BUCKETS,
    BacklogFigures,
    BacklogRow,
    age_bucket,
    backlog,
)
from worklist.metrics.load import DayLoad, DepartmentLoad, PathologistLoad, load_on

__all__ = [
    "AGE_BUCKETS",
    "BacklogFigures",
    "BacklogRow",
    "DayLoad",
    "DepartmentLoad",
    "PathologistLoad",
    "age_bucket",
    "backlog",
    "load_on",
]
