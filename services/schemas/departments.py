"""Response bodies of the department routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DepartmentPublic(BaseModel):
    """One of the region's pathology departments (a site), named by its code everywhere in the
    API (``department_code``)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    city: str
