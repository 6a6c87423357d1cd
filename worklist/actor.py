"""Who does something, in which role, for whom and why: the audit's "who" and "why"."""

from __future__ import annotations

from dataclasses import dataclass

from worklist.enums import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The user behind an operation, as NEN 7513 wants it recorded.

    ``purpose_of_use`` follows the usual vocabulary: "treatment", "operations", "quality",
    "research", "emergency". ``break_glass`` marks an access outside the user's normal
    authorisation (emergency access), which the audit log flags for review.
    """

    user_id: str
    role: Role
    site: str | None = None
    on_behalf_of: str | None = None
    purpose_of_use: str = "treatment"
    break_glass: bool = False

    @classmethod
    def system(cls, name: str = "coupe") -> Actor:
        """The platform itself (the assignment engine, imports, jobs)."""
        return cls(user_id=name, role=Role.SYSTEM, purpose_of_use="operations")

    @property
    def may_manage(self) -> bool:
        """Whether the actor may move other people's work (lab managers, admins, the system)."""
        return self.role in (Role.LAB_MANAGER, Role.ADMIN, Role.SYSTEM)
