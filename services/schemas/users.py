"""Request and response bodies of accounts: created, updated and shown to admins; a user's
own new password."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from services.schemas.auth import UserPublic
from services.schemas.common import DepartmentCode, PathologistCode, RequestBody, text
from worklist.enums import Role

Username = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.@-]+$",
        description="Unique whatever its case: `Alice` and `alice` are one name.",
    ),
]
NewPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="At least COUPE_PASSWORD_MIN_LENGTH (default 12) characters and hard to "
        "guess (zxcvbn score 3 of 4, not built from the account's names); a refusal says why.",
    ),
]
DisplayName = Annotated[str, text(1, 200)]


class UserCreate(RequestBody):
    """A new account. A pathologist account names its pathologist (``pathologist_code``);
    its department is the pathologist's. The ``system`` role is refused."""

    username: Username
    display_name: DisplayName
    password: NewPassword
    role: Role
    department_code: DepartmentCode | None = None
    pathologist_code: PathologistCode | None = None


class UserUpdate(RequestBody):
    """What to change on an account; fields left out stay as they are.

    ``department_code`` and ``pathologist_code`` may be null (no department, no pathologist
    link); a new ``pathologist_code`` brings its department unless one is given. ``active``
    false disables the account and ends its sessions; true re-enables it. ``password`` resets
    it (and ends the account's sessions).
    """

    username: Username | None = None
    display_name: DisplayName | None = None
    role: Role | None = None
    department_code: DepartmentCode | None = None
    pathologist_code: PathologistCode | None = None
    active: bool | None = None
    password: NewPassword | None = None

    @model_validator(mode="after")
    def _only_links_may_be_null(self) -> Self:
        for name in ("username", "display_name", "role", "active", "password"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class PasswordChange(RequestBody):
    """A signed-in user's own new password, with the current one as proof."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: NewPassword


class UserAccountPublic(UserPublic):
    """An account as administrators see it: also whether it is active."""

    active: bool
