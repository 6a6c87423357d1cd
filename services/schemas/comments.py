"""Request and response bodies of case comments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from services.schemas.common import RequestBody, text


class CommentCreate(RequestBody):
    """A remark on a case."""

    body: Annotated[str, text(1, 10_000, multiline=True)]


class CommentPublic(BaseModel):
    """A remark on a case, by whom and when."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    author: str
    body: str
    created_at: datetime
