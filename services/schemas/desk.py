"""The lab manager's figures as the API answers them: the backlog and the load on a day."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class BacklogRowPublic(BaseModel):
    """The open cases of a group: a department's tumour group, a department, or the region."""

    department_code: str | None = Field(description="None for the region's total.")
    tumour_group: str | None = Field(description="None for a department's or the region's sum.")
    open_cases: int
    open_minutes: float = Field(description="NVVP standard minutes of the open cases.")
    overdue_cases: int = Field(description="Open cases past their due time.")
    cases_by_age: dict[str, int] = Field(
        description='Open cases per age bucket in calendar days: "0-2", "3-5", "6-7", "8-10", '
        '">10".'
    )


class BacklogPublic(BaseModel):
    """``GET /worklist/backlog``."""

    as_of: datetime
    age_buckets: list[str] = Field(description="The buckets' labels, youngest first.")
    groups: list[BacklogRowPublic] = Field(description="Per department and tumour group.")
    departments: list[BacklogRowPublic] = Field(description="Per department (all of them).")
    region: BacklogRowPublic


class PathologistLoadPublic(BaseModel):
    """One active pathologist on the day."""

    code: str
    name: str
    department_code: str
    subspecialties: list[str]
    present: bool
    absent_because: str | None = Field(
        description='None when present; else "not a working day" (weekend or part-time day), '
        '"public holiday: <name>", or the absence\'s kind ("leave", "sickness", ...).'
    )
    capacity_minutes: float = Field(description="Standard minutes of capacity that day.")
    open_minutes: float = Field(description="Standard minutes of the open cases held now.")
    assigned_today_minutes: float = Field(description="Of those, assigned on the day.")
    load_ratio: float | None = Field(
        description="Relative load: open minutes (those assigned that day included) / capacity, "
        "as the assignment engine ranks; None without capacity that day."
    )


class DepartmentLoadPublic(BaseModel):
    """A department's (or the region's) pathologists summed."""

    department_code: str
    headcount: int
    present: int
    capacity_minutes: float
    open_minutes: float
    assigned_today_minutes: float
    load_ratio: float | None


class LoadPublic(BaseModel):
    """``GET /pathologists/load``."""

    date: date
    pathologists: list[PathologistLoadPublic]
    departments: list[DepartmentLoadPublic]
    region: DepartmentLoadPublic
