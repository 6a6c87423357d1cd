"""Request and response bodies of signing in (separate from the table models)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.schemas.common import RequestBody
from worklist.enums import Role


class LoginRequest(RequestBody):
    """Credentials for signing in."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    """A user as others may see them (never the password hash): their department and, for a
    pathologist's account, their pathologist, by code as everywhere in the API."""

    id: int
    username: str
    display_name: str
    role: Role
    department_code: str | None
    pathologist_code: str | None


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


class StaleRoundBody(ErrorBody):
    """A stale assignment round's refusal: the error, and each change since its preview."""

    changes: list[str]
