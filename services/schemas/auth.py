"""Request and response bodies of signing in (separate from the table models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.schemas.common import RequestBody
from worklist.enums import Role


class LoginRequest(RequestBody):
    """Credentials for signing in."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    """A user as others may see them (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    department_code: str | None = None
    pathologist_id: int | None


class TokenResponse(BaseModel):
    """A session token; the same token is also set as an HttpOnly cookie for the viewer."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserPublic


class ErrorBody(BaseModel):
    """What every error answer looks like."""

    error: str
    detail: str
