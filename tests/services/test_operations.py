"""``/ready``: the database answers, its schema is this code's, and tiling jobs have a runner.

Real apps on their own data folders; the "another process" cases are two apps on one data dir
(the background lock is per open file, so two apps in one test process contend as two server
processes would).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from services.app import create_app
from services.settings import Settings
from services.state import AppState
from tests.services.test_metrics import database_url  # noqa: F401 - the fixture: both databases
from worklist.migrate import alembic_config

SECRET = "test-secret-key-not-for-production"


def settings_for(data_dir: Path, *, background: bool = False, url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key=SECRET,  # type: ignore[arg-type]
        run_background_workers=background,
        import_poll_s=0.2,
        job_poll_s=0.2,
    )


@contextmanager
def app_on(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def state_of(client: TestClient) -> AppState:
    state: AppState = client.app.state.coupe  # type: ignore[attr-defined]
    return state


def ready(client: TestClient, status_code: int) -> dict[str, Any]:
    answer = client.get("/ready")  # no sign-in: a load balancer has none
    assert answer.status_code == status_code, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == ("ready" if status_code == 200 else "not ready")
    assert set(body["checks"]) == {"database", "migrations", "job_runner"}
    return body


def test_a_fresh_app_is_ready_and_says_what_it_checked(
    tmp_path: Path,
    database_url: str | None,  # noqa: F811
) -> None:
    settings = settings_for(tmp_path / "data", url=database_url)
    with app_on(settings) as client:
        body = ready(client, 200)
        checks = body["checks"]
        assert all(check["ok"] for check in checks.values())
        dialect = "sqlite" if database_url is None else "postgresql"
        assert checks["database"]["detail"] == f"{dialect} answered"
        heads = ScriptDirectory.from_config(alembic_config()).get_heads()
        assert heads and all(head in checks["migrations"]["detail"] for head in heads)
        assert "COUPE_RUN_BACKGROUND_WORKERS=false" in checks["job_runner"]["detail"]
        # Nothing secret or revealing: no key, no database URL, no server path.
        shown = client.get("/ready").text
        for hidden in (SECRET, settings.resolved_database_url, str(settings.data_dir.resolve())):
            assert hidden not in shown


def test_a_schema_behind_the_code_is_not_ready(
    tmp_path: Path,
    database_url: str | None,  # noqa: F811
) -> None:
    with app_on(settings_for(tmp_path / "data", url=database_url)) as client:
        scripts = ScriptDirectory.from_config(alembic_config())
        (head,) = scripts.get_heads()
        older = scripts.get_revision(head).down_revision
        assert isinstance(older, str)
        with state_of(client).engine.begin() as connection:
            command.stamp(alembic_config(connection), older)
        checks = ready(client, 503)["checks"]
        assert checks["database"]["ok"] is True
        assert checks["migrations"]["ok"] is False
        detail = checks["migrations"]["detail"]
        assert older in detail and head in detail and "coupe db upgrade" in detail


def test_a_schema_from_a_newer_release_is_not_ready(tmp_path: Path) -> None:
    with app_on(settings_for(tmp_path / "data")) as client:
        with state_of(client).engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        checks = ready(client, 503)["checks"]
        assert "9999_future" in checks["migrations"]["detail"]
        assert "newer release" in checks["migrations"]["detail"]


def test_a_database_that_does_not_answer_is_not_ready_while_health_still_is(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with app_on(settings_for(data_dir)) as client:
        state = state_of(client)
        state.engine.dispose()  # no pooled connection to the file is left
        moved = tmp_path / "moved"
        shutil.move(data_dir, moved)  # the SQLite file's folder is gone
        try:
            checks = ready(client, 503)["checks"]
            assert checks["database"] == {
                "ok": False,
                "detail": "the database did not answer: OperationalError",
            }
            assert checks["migrations"]["ok"] is False
            assert client.get("/health").status_code == 200
        finally:
            shutil.move(moved, data_dir)


def test_the_process_holding_the_background_lock_is_ready_while_its_runner_runs(
    tmp_path: Path,
) -> None:
    with app_on(settings_for(tmp_path / "data", background=True)) as client:
        checks = ready(client, 200)["checks"]
        assert checks["job_runner"]["detail"].startswith("runs in this process")
        state_of(client).jobs.close()  # the runner's thread stops
        checks = ready(client, 503)["checks"]
        assert checks["job_runner"] == {
            "ok": False,
            "detail": "the job runner thread of this process has stopped",
        }


def test_another_process_is_ready_while_some_process_holds_the_background_lock(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with ExitStack() as holding:
        holder = holding.enter_context(app_on(settings_for(data_dir, background=True)))
        with app_on(settings_for(data_dir, background=True)) as other:
            assert state_of(holder).holds_background_lock
            assert not state_of(other).holds_background_lock
            checks = ready(other, 200)["checks"]
            assert checks["job_runner"]["detail"] == (
                "runs in another process (it holds background.lock)"
            )
            holding.close()  # the holder stops: its lock is released
            checks = ready(other, 503)["checks"]
            assert checks["job_runner"]["ok"] is False
            assert "background.lock is free" in checks["job_runner"]["detail"]
            # Looking did not take the lock: a process starting now still gets it.
            with app_on(settings_for(data_dir, background=True)) as newcomer:
                assert state_of(newcomer).holds_background_lock
                assert ready(other, 200)["checks"]["job_runner"]["ok"]
