"""Who a request comes from: the signed-in user, as the routes and the access rules see them."""

from __future__ import annotations

from dataclasses import dataclass

from worklist.actor import Actor
from worklist.enums import Role
from worklist.models import UserAccount

__all__ = ["AuthenticatedUser"]


@dataclass(frozen=True)
class AuthenticatedUser:
    """The signed-in user, as the routes and the access rules need them."""

    id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    department_code: str | None
    pathologist_id: int | None
    session_id: int | None = None  # the sign-in session the request came with

    @property
    def actor(self) -> Actor:
        """The audit's "who": this user, at their home site."""
        return Actor(user_id=self.username, role=self.role, site=self.department_code)

    @classmethod
    def from_account(cls, account: UserAccount, session_id: int | None = None) -> AuthenticatedUser:
        """The user of ``account`` (its department loaded), signed in with ``session_id``."""
        return cls(
            id=account.id,
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            department_id=account.department_id,
            department_code=account.department.code if account.department else None,
            pathologist_id=account.pathologist_id,
            session_id=session_id,
        )
