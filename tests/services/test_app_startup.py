"""Start-up pieces that matter with several server processes on one data directory."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import event

from services.app import _background_lock, prepare_storage, start_state
from services.settings import Settings


def test_only_one_process_runs_background_work(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    prepare_storage(settings)
    first = _background_lock(settings)
    assert first is not None
    assert _background_lock(settings) is None  # another holder: no second runner
    first()
    again = _background_lock(settings)
    assert again is not None  # released: a restarted process takes over
    again()


def test_generated_secret_key_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) >= 40
    assert Settings(data_dir=tmp_path).resolved_secret_key() == key
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_prepare_storage_makes_folders_and_migrates(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    prepare_storage(settings)
    prepare_storage(settings)  # idempotent
    for folder in (settings.pyramid_dir, settings.slide_dir, settings.import_dir):
        assert folder.is_dir()
    assert (tmp_path / "data" / "worklist.sqlite3").exists()


def test_requests_up_to_the_pool_size_reuse_their_connections(tmp_path: Path) -> None:
    # A pool smaller than the requests served at once opens and closes a connection per
    # request beyond it (measured on PostgreSQL: 179 instead of 214 claims/s over HTTP).
    settings = Settings(data_dir=tmp_path, database_pool_size=12, run_background_workers=False)
    state = start_state(settings)
    try:
        opened: list[object] = []
        event.listen(state.engine, "connect", lambda connection, record: opened.append(record))
        for _ in range(3):  # three bursts of twelve requests at once
            connections = [state.engine.connect() for _ in range(12)]
            for connection in connections:
                connection.close()
        assert len(opened) <= 12
    finally:
        state.close()
