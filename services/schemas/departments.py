"""Response bodies of the department routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DepartmentPublic(BaseModel):
    """One of the region's pathology departments (a site)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    city: str
