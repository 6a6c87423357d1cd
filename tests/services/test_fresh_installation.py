"""A real installation from nothing, as the README walks through it: an empty PostgreSQL schema,
``coupe db upgrade``, ``coupe admin create-user``, ``coupe region import`` of the packaged
region, then the admin signs in through the API and sees the region; importing twice changes
nothing. The commands run as the operator runs them: the installed ``coupe`` in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from services.app import create_app
from services.settings import Settings
from worklist.db import make_engine, read_session
from worklist.models import AuditEvent, Department, Pathologist
from worklist.region import default_region_path

PG_ENV = "COUPE_TEST_DATABASE_URL"
PASSWORD = "lantaarnpaal-gieter-97"
COUPE = [str(Path(sys.executable).with_name("coupe"))]  # the installed console script


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and PostgreSQL is required: {reason}")
    pytest.skip(reason)


@pytest.fixture
def empty_schema_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        _unavailable(f"{PG_ENV} is not set")
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    schema = f"coupe_fresh_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL unreachable: {exc}")
        return
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
