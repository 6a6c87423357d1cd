"""A real installation from nothing, as the README walks through it: an empty PostgreSQL schema,
``coupe db upgrade``, ``coupe admin create-user``, ``coupe region import`` of the packaged
region, then the admin signs in through the API and sees the region; importing twice changes
nothing. The commands run as the operator runs them: the installed ``coupe`` in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.app import create_app
from services.settings import Settings
from tests.postgres_support import postgres_schema
from worklist.db import make_engine, read_session
from worklist.models import AuditEvent, Department, Pathologist
from worklist.region import default_region_path

PASSWORD = "lantaarnpaal-gieter-97"
COUPE = [str(Path(sys.executable).with_name("coupe"))]  # the installed console script


@pytest.fixture
def empty_schema_url() -> Iterator[str]:
    with postgres_schema("coupe_fresh") as url:
        yield url


def coupe(url: str, data_dir: Path, *args: str, stdin: str = "") -> str:
    env = {**os.environ, "COUPE_DATABASE_URL": url, "COUPE_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [*COUPE, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url, pool_size=1)
    with read_session(engine) as session:
        found = tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Department, Pathologist, AuditEvent)
        )
    engine.dispose()
    return found  # type: ignore[return-value]


@pytest.mark.postgres
def test_a_fresh_installation_on_postgresql(empty_schema_url: str, tmp_path: Path) -> None:
    url, data = empty_schema_url, tmp_path / "data"
    assert "up to date" in coupe(url, data, "db", "upgrade")
    created = coupe(
        url,
        data,
        "admin",
        "create-user",
        "--username",
        "ops",
        "--display-name",
        "Ops Admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "created admin ops" in created
    region = str(default_region_path())
    assert "add department HMC" in coupe(url, data, "region", "import", region, "--dry-run")
    assert counts(url)[:2] == (0, 0)
    assert "applied" in coupe(url, data, "region", "import", region, "--yes")
    imported = counts(url)
    assert imported[0] == 6 and imported[1] > 30
    assert "nothing to change" in coupe(url, data, "region", "import", region, "--yes")
    assert counts(url) == imported

    settings = Settings(database_url=url, data_dir=data, run_background_workers=False)
    with TestClient(create_app(settings)) as client:
        signed_in = client.post("/auth/login", json={"username": "ops", "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        me = client.get("/auth/me", headers=headers)
        assert me.status_code == 200 and me.json()["role"] == "admin"
        departments = client.get("/departments", headers=headers).json()["items"]
        assert sorted(d["code"] for d in departments) == [
            "ALR",
            "GHZ",
            "HAGA",
            "HMC",
            "LUMC",
            "RDGG",
        ]
        users = client.get("/users", headers=headers).json()["items"]
        assert [u["username"] for u in users] == ["ops"]
