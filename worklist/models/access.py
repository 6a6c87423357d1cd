"""Who may sign in, and who may see a case outside their own department."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from worklist.enums import GrantKind, Role
from worklist.models.base import Base, UTCDateTime, str_enum
from worklist.models.organisation import Department


class UserAccount(Base):
    """A person who signs in: a pathologist, a lab manager or an administrator.

    Pathologists are linked to their ``Pathologist`` row; everyone belongs to a department
    (their home site), which scopes what they see. User names are unique without regard to
    case (``Alice`` and ``alice`` are one person): ``username_key``, the casefolded name, is
    set whenever ``username`` is and is unique, so the database holds the rule.
    """

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    username_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    pathologist_id: Mapped[int | None] = mapped_column(ForeignKey("pathologist.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    department: Mapped[Department | None] = relationship()

    @validates("username")
    def _fold_username(self, _key: str, username: str) -> str:
        self.username_key = username_key(username)
        return username


def username_key(username: str) -> str:
    """What makes two user names the same name: their casefolded form."""
    return username.casefold()


class CaseGrant(Base):
    """Access to one case outside the user's department: a consult, or break-the-glass.

    Grants expire; break-the-glass grants carry the user's reason and are flagged in the
    audit log for review.
    """

    __tablename__ = "case_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    kind: Mapped[GrantKind] = mapped_column(str_enum(GrantKind, "grant_kind"))
    granted_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
