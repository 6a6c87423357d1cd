"""``coupe backup`` and ``coupe restore``: an installation with cases, slides, built pyramids and
an audit log, backed up and restored into an empty data dir (and empty database), on SQLite
and on PostgreSQL; then the audit chain verifies, every case is there and every slide opens.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from services.app import create_app
from services.backup import make_backup, restore_backup
from services.cli import build_cli
from services.security import hash_password
from services.settings import Settings
from services.storage import pyramid_paths
from tests.postgres_support import postgres_database
from tests.services.conftest import PASSWORD, ServiceHarness
from tests.services.tiling_jobs_support import new_case, sample_copy, slides_of
from tiling.pyramid import build_pyramid
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.audit import record_event, seal_pending, verify_audit_chain
from worklist.db import make_engine, read_session, run_in_transaction
from worklist.enums import AuditAction, PyramidStatus, Role
from worklist.migrate import is_up_to_date, upgrade_database, upgrade_engine
from worklist.models import Case, Slide
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_case,
    set_pyramid_status,
)
from worklist.region import default_region
from worklist.seeding import import_region

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SAMPLE = "CMU-1-Small-Region.svs"
OLD_REVISION = "0010"

runner = CliRunner()


# --- Installations ---------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str) -> Iterator[str | None]:
    """None for SQLite (the data dir's own file); for PostgreSQL the URL of a new, empty
    database, dropped afterwards: a restore needs a database with nothing in it."""
    if backend == "sqlite":
        yield None
        return
    with postgres_database("coupe_backup") as url:
        yield url


def settings_on(data_dir: Path, database_url: str | None) -> Settings:
    """No COUPE_SECRET_KEY: the key is the data dir's own file, which the backup must hold."""
    return Settings(data_dir=data_dir, database_url=database_url, run_background_workers=False)


def environment(settings: Settings) -> dict[str, str | None]:
    """What ``coupe`` reads for ``settings``."""
    return {"COUPE_DATA_DIR": str(settings.data_dir), "COUPE_DATABASE_URL": settings.database_url}


@dataclass(frozen=True)
class Installation:
    """What was put in: case numbers, slides with pyramids, the one still being built."""

    settings: Settings
    accessions: frozenset[str]
    built: tuple[int, ...]
    building: int


def install(settings: Settings) -> Installation:
    """Three HMC cases, each with a slide file in the slide folder; two slides with built
    pyramids (one built, one a copy of it), one whose pyramid is still being built; an admin
    who opened a slide, and the audit log sealed."""
    pyramid: Path | None = None
    with TestClient(create_app(settings)) as client:
        service = ServiceHarness(client, settings)
        import_region(engine=service.engine, actor=Actor.system(), region=default_region())
        create_user(
            engine=service.engine,
            actor=Actor.system(),
            user=NewUser(
                username="admin",
                display_name="Admin",
                password_hash=hash_password(PASSWORD),
                role=Role.ADMIN,
            ),
        )
        accessions, slide_ids = [], []
        for number in range(3):
            folder = settings.slide_dir / f"case-{number}"
            state = new_case(service, "HMC", file_path=sample_copy(SAMPLE, folder))
            accessions.append(state.accession_number)
            slide_ids.append(slides_of(service, state.case_id)[0].id)
        for slide_id in slide_ids[:2]:
            paths = pyramid_paths(settings, slide_id)
            if pyramid is None:
                slide_file = settings.slide_dir / "case-0" / SAMPLE
                build_pyramid(slide_file, paths.directory, name=paths.name)
                pyramid = paths.directory
            else:
                shutil.copytree(pyramid, paths.directory)
            set_pyramid_status(engine=service.engine, slide_id=slide_id, status=PyramidStatus.READY)
        # A build under way: its work folder, no descriptor yet.
        building = pyramid_paths(settings, slide_ids[2])
        (building.directory / f".{building.name}.building" / "cores").mkdir(parents=True)
        headers = service.headers("admin")
        assert client.get(f"/slides/{slide_ids[0]}.dzi", headers=headers).status_code == 200
        seal_pending(service.engine)
    settings.resolved_secret_key()  # as a server does at start: the key file exists
    return Installation(settings, frozenset(accessions), tuple(slide_ids[:2]), slide_ids[2])


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(build_cli(), list(args), env=environment(settings))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def backed_up(installation: Installation, folder: Path) -> dict[str, object]:
    code, output = invoke(installation.settings, "backup", str(folder))
    assert code == 0, output
    manifest: dict[str, object] = json.loads((folder / "manifest.json").read_text())
    return manifest


# --- The round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restored_installation_has_every_case_and_slide_and_an_intact_audit_log(
    tmp_path: Path, backend: str
) -> None:
    with fresh_database(backend) as source_url, fresh_database(backend) as target_url:
        installation = install(settings_on(tmp_path / "source", source_url))
        folder = tmp_path / "backup"
        manifest = backed_up(installation, folder)

        # The backup: private, complete, and honest about what it left out.
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        files = {entry["path"]: entry for entry in manifest["files"]}  # type: ignore[attr-defined]
        assert manifest["database"]["cases"] == 3  # type: ignore[index]
        assert manifest["database"]["slides"] == 3  # type: ignore[index]
        assert manifest["database"]["schema_revision"]  # type: ignore[index]
        assert manifest["database"]["audit_chain_seq"] > 0  # type: ignore[index]
        for slide_id in installation.built:
            assert f"data/pyramids/{slide_id}/slide.dzi" in files
        assert not any(path.startswith(f"data/pyramids/{installation.building}/") for path in files)
        assert {"path": f"data/pyramids/{installation.building}",
                "reason": "being built: no published slide.dzi yet"} in manifest["left_out"]  # type: ignore[operator]  # fmt: skip
        assert stat.S_IMODE((folder / "data" / "secret_key").stat().st_mode) == 0o600
        for path, entry in files.items():
            assert (folder / path).stat().st_size == entry["size_bytes"]

        # Not into the database it came from: that one is not empty.
        in_use = settings_on(tmp_path / "other", installation.settings.resolved_database_url)
        code, output = invoke(in_use, "restore", str(folder))
        assert code == 2 and "is not empty" in output and "empty database only" in output
        assert not in_use.data_dir.exists()

        # Restore into an empty data dir (and database) elsewhere.
        restored = settings_on(tmp_path / "restored", target_url)
        code, output = invoke(restored, "restore", str(folder))
        assert code == 0, output
        assert "audit log intact" in output
        check_restored(installation, restored)
        for root in (folder, restored.data_dir):  # patient data: the service user's only
            for path in (root, *root.rglob("*")):
                mode = stat.S_IMODE(path.stat().st_mode)
                assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:o}"


def check_restored(installation: Installation, restored: Settings) -> None:
    """Same case numbers, the audit chain verifies, every slide opens from the new data dir."""
    source = installation.settings
    assert (restored.data_dir / "secret_key").read_text() == (
        source.data_dir / "secret_key"
    ).read_text()
    engine = make_engine(restored.resolved_database_url, pool_size=1)
    try:
        assert is_up_to_date(engine)
        with read_session(engine) as session:
            assert verify_audit_chain(session).ok
            accessions = set(session.scalars(select(Case.accession_number)))
            slide_files = list(session.scalars(select(Slide.file_path)))
    finally:
        engine.dispose()
    assert accessions == installation.accessions
    # Every slide file is named at its new place, and is there.
    new_slides = str(restored.slide_dir) + "/"
    assert all(
        path and path.startswith(new_slides) and Path(path).is_file() for path in slide_files
    )
    with TestClient(create_app(restored)) as client:
        service = ServiceHarness(client, restored)
        headers = service.headers("admin")
        for slide_id in (*installation.built, installation.building):
            dzi = client.get(f"/slides/{slide_id}.dzi", headers=headers)
            assert dzi.status_code == 200, dzi.text
            tile = client.get(f"/slides/{slide_id}_files/9/0_0.jpeg", headers=headers)
            assert tile.status_code == 200, tile.text
            assert tile.headers["content-type"] == "image/jpeg"
        # The installation goes on: ids, sequences and the accession counter came along.
        assert new_case(service, "HMC").accession_number not in installation.accessions
        for slide_id in installation.built:  # pre-built, from the restored pyramid
            assert (
                client.get(f"/slides/{slide_id}.dzi", headers=headers).text
                == pyramid_paths(restored, slide_id).dzi.read_text()
            )


# --- Refusals ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Installation, Path]:
    """One SQLite installation and its backup, for the refusals (they change nothing)."""
    root = tmp_path_factory.mktemp("backup")
    installation = install(settings_on(root / "source", None))
    backed_up(installation, root / "backup")
    return installation, root / "backup"


def test_backup_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, sqlite_backup: tuple[Installation, Path]
) -> None:
    installation, _ = sqlite_backup
    folder = tmp_path / "full"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    code, output = invoke(installation.settings, "backup", str(folder))
    assert code == 2
    assert "is not empty" in output and str(folder) in output
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_restore_refuses_a_data_dir_that_is_not_empty(
    tmp_path: Path, sqlite_backup: tuple[Installation, Path]
) -> None:
    _, folder = sqlite_backup
    target = settings_on(tmp_path / "in-use", None)
    target.data_dir.mkdir()
    (target.data_dir / "slides").mkdir()
    (target.data_dir / "slides" / "old.svs").write_bytes(b"a slide of another installation")
    code, output = invoke(target, "restore", str(folder))
    assert code == 2
    assert "is not empty" in output and "slides" in output
    assert [p.name for p in target.data_dir.iterdir()] == ["slides"]


def test_restore_takes_a_data_dir_of_empty_mount_points(
    tmp_path: Path, sqlite_backup: tuple[Installation, Path]
) -> None:
    """A container's /data holds the empty folders its volumes are mounted on: still empty."""
    _, folder = sqlite_backup
    target = settings_on(tmp_path / "container-data", None)
    for mount_point in ("pyramids", "import/ALR", "slides"):
        (target.data_dir / mount_point).mkdir(parents=True)
    code, output = invoke(target, "restore", str(folder))
    assert code == 0, output
    assert any((target.data_dir / "pyramids").iterdir())


def test_restore_refuses_a_database_that_is_not_empty(
    tmp_path: Path, sqlite_backup: tuple[Installation, Path]
) -> None:
    installation, folder = sqlite_backup
    # An empty data dir, but the database it names holds the source installation.
    target = settings_on(tmp_path / "empty", installation.settings.resolved_database_url)
    code, output = invoke(target, "restore", str(folder))
    assert code == 2
    assert "is not empty" in output and "empty database only" in output
    assert not target.data_dir.exists()


def test_restore_refuses_a_tampered_backup_naming_the_file_and_writes_nothing(
    tmp_path: Path, sqlite_backup: tuple[Installation, Path]
) -> None:
    installation, original = sqlite_backup
    folder = tmp_path / "copy"
    shutil.copytree(original, folder)
    tile = next(
        (folder / "data" / "pyramids" / str(installation.built[1])).rglob("*.jpeg")
    ).relative_to(folder)
    damaged = folder / tile
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    target = settings_on(tmp_path / "restored", None)
    code, output = invoke(target, "restore", str(folder))
    assert code == 2
    assert "damaged" in output and tile.as_posix() in output
    assert not target.data_dir.exists()
    # A missing file is named too.
    damaged.unlink()
    code, output = invoke(target, "restore", str(folder))
    assert code == 2 and "missing" in output and tile.as_posix() in output
    assert not target.data_dir.exists()


def test_restore_refuses_a_folder_without_a_manifest(tmp_path: Path) -> None:
    target = settings_on(tmp_path / "restored", None)
    (tmp_path / "nothing").mkdir()
    code, output = invoke(target, "restore", str(tmp_path / "nothing"))
    assert code == 2 and "manifest.json" in output
    assert not target.data_dir.exists()


# --- Older backups, busy databases --------------------------------------------------------------


def test_a_backup_of_an_older_schema_restores_at_this_coupes_newest(tmp_path: Path) -> None:
    source = settings_on(tmp_path / "source", None)
    source.data_dir.mkdir()
    engine = make_engine(source.resolved_database_url, pool_size=1)
    try:
        upgrade_engine(engine, OLD_REVISION)
    finally:
        engine.dispose()
    code, output = invoke(source, "backup", str(tmp_path / "backup"))
    assert code == 0, output
    assert "not at this Coupe's newest schema" in output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["database"]["schema_revision"] == OLD_REVISION

    restored = settings_on(tmp_path / "restored", None)
    code, output = invoke(restored, "restore", str(tmp_path / "backup"))
    assert code == 0, output
    engine = make_engine(restored.resolved_database_url, pool_size=1)
    try:
        assert is_up_to_date(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backup_taken_while_the_log_is_written_is_one_consistent_moment(
    tmp_path: Path, backend: str
) -> None:
    with fresh_database(backend) as source_url, fresh_database(backend) as target_url:
        settings = settings_on(tmp_path / "source", source_url)
        settings.data_dir.mkdir()
        upgrade_database(settings.resolved_database_url)
        engine = make_engine(settings.resolved_database_url, pool_size=2)
        stop = threading.Event()
        written = [0]

        def keep_writing() -> None:
            while not stop.is_set():
                run_in_transaction(
                    engine,
                    lambda session: record_event(
                        session,
                        actor=Actor.system(),
                        event_type="test.write",
                        action=AuditAction.READ,
                    ),
                )
                written[0] += 1
                if written[0] % 5 == 0:
                    seal_pending(engine)

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            while written[0] < 20:
                time.sleep(0.01)
            result = make_backup(
                settings=settings, folder=tmp_path / "backup", actor=Actor.system("coupe-backup")
            )
        finally:
            stop.set()
            writer.join()
            engine.dispose()
        facts = result.manifest.database
        assert 20 < facts.audit_records <= written[0] + 1  # + 1: the backup records itself
        # The copy holds exactly what the manifest read at its moment, chain intact.
        restored = restore_backup(
            settings=settings_on(tmp_path / "restored", target_url),
            folder=tmp_path / "backup",
            actor=Actor.system("coupe-restore"),
        )
        assert restored.problems == ()
        assert restored.audit.records_checked == facts.audit_records + 1  # + the restore's
        assert restored.audit.records_checked - restored.audit.unsealed == facts.audit_chain_seq


def test_without_pg_dump_a_postgresql_backup_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = {
        "COUPE_DATA_DIR": str(tmp_path / "data"),
        "COUPE_DATABASE_URL": "postgresql+psycopg://coupe@127.0.0.1:1/coupe",
        "PATH": str(tmp_path),  # no PostgreSQL client programs here
    }
    result = runner.invoke(build_cli(), ["backup", str(tmp_path / "backup")], env=env)
    assert result.exit_code == 2
    assert "pg_dump is not installed" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "backup").exists()


def test_a_pyramid_rebuilt_during_the_backup_is_left_out_not_mixed(
    tmp_path: Path, sqlite_backup: tuple[Installation, Path]
) -> None:
    installation, _ = sqlite_backup
    rebuilt = installation.built[1]
    dzi = pyramid_paths(installation.settings, rebuilt).dzi

    def publish_meanwhile(stage: str, done: int, total: int) -> None:
        if done == 1:  # after the first file, before the pyramids: a rebuild publishes
            partial = dzi.with_name("slide.dzi.partial")
            partial.write_text(dzi.read_text())
            os.replace(partial, dzi)

    result = make_backup(
        settings=installation.settings,
        folder=tmp_path / "backup",
        actor=Actor.system("coupe-backup"),
        progress=publish_meanwhile,
    )
    label = f"data/pyramids/{rebuilt}"
    assert {(item.path, item.reason) for item in result.manifest.left_out} >= {
        (label, "deleted or rebuilt during the backup")
    }
    assert not any(entry.path.startswith(label + "/") for entry in result.manifest.files)
    assert not (tmp_path / "backup" / label).exists() or not any(
        p.is_file() for p in (tmp_path / "backup" / label).rglob("*")
    )
    kept = f"data/pyramids/{installation.built[0]}/slide.dzi"
    assert any(entry.path == kept for entry in result.manifest.files)


def test_slide_files_outside_the_data_dir_are_named_not_backed_up(tmp_path: Path) -> None:
    settings = settings_on(tmp_path / "source", None)
    settings.data_dir.mkdir()
    upgrade_database(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    outside = tmp_path / "elsewhere" / SAMPLE
    inside = sample_copy(SAMPLE, settings.slide_dir / "kept")
    try:
        import_region(engine=engine, actor=Actor.system(), region=default_region())
        for file_path in (str(outside), "kept/" + inside.name):  # absolute; relative: inside
            intake_case(
                engine=engine,
                actor=Actor.system(),
                case=CaseIntake(
                    department="HMC",
                    patient_pseudonym="PSN-1",
                    tumour_group="gastro-intestinal",
                    category=2,
                    specimens=[
                        SpecimenIntake(
                            "A", blocks=[BlockIntake("A1", [SlideIntake("H&E", file_path)])]
                        )
                    ],
                ),
            )
    finally:
        engine.dispose()
    code, output = invoke(settings, "backup", str(tmp_path / "backup"))
    assert code == 0, output
    assert "1 slide files the database names are outside the data directory" in output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["outside_data_dir"] == [str(outside)]
    assert "data/slides/kept/" + SAMPLE in {entry["path"] for entry in manifest["files"]}
