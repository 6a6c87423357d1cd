"""Departments and pathologists, with their subspecialties and rosters."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from worklist.models.base import Base
from worklist.roster import WEEKDAYS, Roster


class Department(Base):
    """One of the region's pathology departments (a site)."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))

    pathologists: Mapped[list[Pathologist]] = relationship(back_populates="department")

    def __repr__(self) -> str:
        return f"Department({self.code!r})"


class Pathologist(Base):
    """A pathologist at one department: subspecialties, FTE, personal maximum, roster."""

    __tablename__ = "pathologist"
    __table_args__ = (
        CheckConstraint("fte > 0 AND fte <= 1.5", name="fte_range"),
        CheckConstraint("max_open_minutes > 0", name="max_open_minutes_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    fte: Mapped[float]
    # Personal maximum of open work, in NVVP standard minutes.
    max_open_minutes: Mapped[float]
    # Comma-separated weekday abbreviations ("mon,tue,thu"): the part-time pattern.
    working_days: Mapped[str] = mapped_column(String(40), default=",".join(WEEKDAYS[:5]))
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship(back_populates="pathologists")
    subspecialties: Mapped[list[PathologistSubspecialty]] = relationship(
        cascade="all, delete-orphan", order_by="PathologistSubspecialty.subspecialty"
    )
    absences: Mapped[list[Absence]] = relationship(
        cascade="all, delete-orphan", order_by="Absence.starts_on"
    )

    @property
    def subspecialty_names(self) -> frozenset[str]:
        """The subspecialties as plain strings."""
        return frozenset(s.subspecialty for s in self.subspecialties)

    @property
    def experienced_in(self) -> frozenset[str]:
        """Subspecialties in which the pathologist may be a mandatory second reader."""
        return frozenset(s.subspecialty for s in self.subspecialties if s.experienced)

    def roster(self) -> Roster:
        """The pathologist's roster as a pure value (working days and absences)."""
        return Roster.from_strings(
            self.working_days, [(a.starts_on, a.ends_on, a.reason) for a in self.absences]
        )

    def __repr__(self) -> str:
        return f"Pathologist({self.code!r})"


class PathologistSubspecialty(Base):
    """One subspecialty (tumour group) of a pathologist."""

    __tablename__ = "pathologist_subspecialty"

    pathologist_id: Mapped[int] = mapped_column(
        ForeignKey("pathologist.id", ondelete="CASCADE"), primary_key=True
    )
    subspecialty: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    # Experienced enough to be the mandatory second reader that a trigger table asks for.
    experienced: Mapped[bool] = mapped_column(default=False)


class Absence(Base):
    """A period (inclusive dates) in which a pathologist takes no diagnostic work."""

    __tablename__ = "absence"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pathologist_id: Mapped[int] = mapped_column(
        ForeignKey("pathologist.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(40), default="leave")
