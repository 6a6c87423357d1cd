"""An app on its own data folder and SQLite database per test, with the six departments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.security import hash_password
from services.settings import Settings
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.enums import Role
from worklist.region import default_region
from worklist.seeding import import_region

PASSWORD = "correct horse battery"


@dataclass
class ServiceHarness:
    """A running app and helpers to sign people in."""

    client: TestClient
    settings: Settings

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        return self.client.app.state.coupe.engine  # type: ignore[attr-defined]

    def add_user(
        self,
        username: str,
        role: Role,
        *,
        department_code: str | None = None,
        pathologist_code: str | None = None,
    ) -> int:
        return create_user(
            engine=self.engine,
            actor=Actor.system(),
            user=NewUser(
                username=username,
                display_name=username.title(),
                password_hash=hash_password(PASSWORD),
                role=role,
                department_code=department_code,
                pathologist_code=pathologist_code,
            ),
        )

    def token(self, username: str) -> str:
        answer = self.client.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceHarness]:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
    )
    with TestClient(create_app(settings)) as client:
        harness = ServiceHarness(client, settings)
        import_region(engine=harness.engine, actor=Actor.system(), region=default_region())
        yield harness
