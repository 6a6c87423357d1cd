"""Tiling on a real dask cluster: ``dask scheduler`` and two ``dask worker --nthreads 1``
started as separate commands on loopback (as ``docker/compose.yaml`` runs them), ``coupe
serve`` pointed at them with ``COUPE_DASK_SCHEDULER``, and slides dropped in a scanner folder.
The database is PostgreSQL (a schema of its own) when ``COUPE_TEST_DATABASE_URL`` is set, as in
CI and in the compose deployment, else the data folder's SQLite file.

The pyramid is the one a local ``coupe tile`` builds, byte for byte; a worker SIGKILLed mid-job,
or ``coupe serve`` restarted mid-job, leaves one job, done. Unlike the session's
``LocalCluster`` (``tests/conftest.py``, no retries), the scheduler keeps dask's default of three
allowed failures, which is what moves the task of a worker that died to another one.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from services.app import prepare_storage
from services.security import hash_password
from services.settings import Settings
from services.storage import pyramid_paths
from tests.services.real_cluster_support import (
    Backoffice,
    Processes,
    RealCluster,
    compare_pyramids,
    deployment_database,
    local_coupe_tile,
    start_backoffice,
    start_cluster,
    wait_until,
)
from tiling.samples import ensure_synthetic_slide, fetch_sample
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.db import make_engine, read_session
from worklist.enums import JobStatus, Role
from worklist.models import Block, Slide, Specimen, TilingJob
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_case,
)
from worklist.region import default_region
from worklist.seeding import import_region

pytestmark = pytest.mark.slow

USERNAME = "labmanager"
PASSWORD = "correct horse battery"
BUILD_TASK = "build_in_worker"
"""The key prefix of a tiling job's dask task (``services.jobs.worker.build_in_worker``)."""
KILL_SLIDE_PX = (24_000, 18_000)
"""Large enough that its build takes several seconds on one worker, so it can be killed
partway."""
RESTART_SLIDE_PX = (30_000, 22_000)
"""Another slide (a file registered before is a duplicate), whose build outlasts a restart of
``coupe serve`` (13,891 tiles)."""


@dataclass
class Deployment:
    """The cluster, ``coupe serve`` on it, and the data folder they share."""

    processes: Processes
    cluster: RealCluster
    backoffice: Backoffice
    settings: Settings
    engine: Engine
    headers: dict[str, str]

    def new_slide(self, department: str) -> tuple[str, int]:
        """A case with block A1 and an H&E slide waiting for its scan: (accession, slide id)."""
        case = intake_case(
            engine=self.engine,
            actor=Actor.system(),
            case=CaseIntake(
                department=department,
                patient_pseudonym=f"PSN-{department}",
                tumour_group="gastro-intestinal",
                category=2,
                specimens=[SpecimenIntake("A", blocks=[BlockIntake("A1", slides=[SlideIntake()])])],
            ),
        )
        with read_session(self.engine) as session:
            [slide_id] = session.scalars(
                select(Slide.id)
                .join(Block, Slide.block_id == Block.id)
                .join(Specimen, Block.specimen_id == Specimen.id)
                .where(Specimen.case_id == case.case_id)
            )
        return case.accession_number, slide_id

    def restart_backoffice(self) -> None:
        """Stop ``coupe serve`` (SIGTERM, as a deployment's restart does) and start it again."""
        self.processes.stop(self.backoffice.name)
        self.backoffice.close()
        self.backoffice = start_backoffice(
            self.processes,
            self.settings.data_dir,
            self.settings.resolved_database_url,
            self.cluster.address,
        )
        self.headers = self.backoffice.sign_in(USERNAME, PASSWORD)

    def drop(self, source: Path, department: str, accession: str) -> Path:
        """Copy ``source`` into the department's scanner folder under the case's name (its
        old modification time kept, so it counts as settled at once)."""
        folder = self.settings.import_dir / department
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{accession}_A1_HE{source.suffix}"
        shutil.copy2(source, target)
        return target

    def jobs_of(self, slide_id: int) -> list[dict[str, Any]]:
        """``GET /jobs?slide_id=``: the slide's tiling jobs."""
        answer = self.backoffice.http.get(
            "/jobs", params={"slide_id": slide_id}, headers=self.headers
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def job_when(
        self,
        slide_id: int,
        *,
        timeout_s: float,
        what: str,
        ready: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any]:
        """The slide's one job once ``ready(job)`` holds; fails (naming ``what``, the job
        and the commands' logs) after ``timeout_s`` or when the job failed."""
        seen: list[list[dict[str, Any]]] = [[]]

        def check() -> dict[str, Any] | None:
            self.processes.check_running()
            seen[0] = jobs = self.jobs_of(slide_id)
            if len(jobs) > 1 or any(job["status"] == "failed" for job in jobs):
                raise AssertionError(f"the slide's tiling jobs: {jobs}\n{self.processes.logs()}")
            return jobs[0] if jobs and ready(jobs[0]) else None

        result: dict[str, Any] = wait_until(
            check,
            timeout_s=timeout_s,
            what=what,
            explain=lambda: f"jobs of slide {slide_id}: {seen[0]}\n{self.processes.logs()}",
            every_s=0.1,
        )
        return result


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("real-cluster")
    with (
        deployment_database(root / "data") as database_url,
        Processes.running(root / "logs") as processes,
        start_cluster(processes, root / "dask") as cluster,
    ):
        settings = Settings(data_dir=root / "data", database_url=database_url)
        # While the workers start: the region and an account, as `coupe region import` and
        # `coupe admin create-user` would make them; `coupe serve` then finds the schema at head.
        prepare_storage(settings)
        engine = make_engine(settings.resolved_database_url)
        try:
            import_region(engine=engine, actor=Actor.system(), region=default_region())
            create_user(
                engine=engine,
                actor=Actor.system(),
                user=NewUser(
                    username=USERNAME,
                    display_name="Lab Manager",
                    password_hash=hash_password(PASSWORD),
                    role=Role.LAB_MANAGER,
                ),
            )
            backoffice = start_backoffice(
                processes, settings.data_dir, database_url, cluster.address
            )
            deployment = Deployment(processes, cluster, backoffice, settings, engine, {})
            try:
                cluster.wait_for_workers()
                deployment.headers = backoffice.sign_in(USERNAME, PASSWORD)
                yield deployment
            finally:
                deployment.backoffice.close()
        finally:
            engine.dispose()


def test_a_slide_dropped_in_a_scanner_folder_is_tiled_on_the_cluster_as_coupe_tile_tiles_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    source = fetch_sample("CMU-1-Small-Region.svs")
    accession, slide_id = deployment.new_slide("ALR")
    started = time.monotonic()
    dropped = deployment.drop(source, "ALR", accession)

    job = deployment.job_when(
        slide_id,
        timeout_s=90,
        what="the dropped slide's tiling job to be done",
        ready=lambda job: job["status"] == "done",
    )
    print(f"drop to pyramid on the cluster: {time.monotonic() - started:.1f} s")

    assert not dropped.exists()  # moved into the slide store
    assert job["error"] is None and job["attempts"] == 1
    assert job["tiles_done"] == job["tiles_total"] > 0
    # The probe and the build ran on the scheduler the backoffice was given.
    seen = deployment.cluster.task_prefixes()
    assert {"probe_slide", BUILD_TASK} <= set(seen), seen

    paths = pyramid_paths(deployment.settings, slide_id)
    local_coupe_tile(source, tmp_path / "local", paths.name)
    compared = compare_pyramids(paths.directory, tmp_path / "local", paths.name)
    assert compared == job["tiles_total"] + 2  # every tile, the .dzi and the manifest


def test_a_worker_killed_mid_job_leaves_the_job_resumed_on_the_other_worker(
    deployment: Deployment, tmp_path: Path
) -> None:
    source = ensure_synthetic_slide("aperio-svs", *KILL_SLIDE_PX)
    accession, slide_id = deployment.new_slide("HMC")
    paths = pyramid_paths(deployment.settings, slide_id)
    cluster = deployment.cluster
    started = time.monotonic()
    deployment.drop(source, "HMC", accession)

    partway = deployment.job_when(
        slide_id,
        timeout_s=90,
        what="the tiling job to be running and partway",
        ready=lambda job: job["status"] == "running" and 0.05 <= job["progress"] <= 0.75,
    )
    [victim] = wait_until(
        lambda: cluster.processing(BUILD_TASK), timeout_s=10, what="the worker running the build"
    )
    victim_name = cluster.workers()[victim]["name"]
    victim_pid = cluster.worker_pid(victim)
    journal = paths.directory / f".{paths.name}.building" / "journal.txt"
    blocks_journaled = len(journal.read_text().splitlines())
    killed_at = time.time()
    os.kill(victim_pid, signal.SIGKILL)
    print(
        f"killed {victim_name} (pid {victim_pid}) at progress "
        f"{partway['progress']:.2f}, {blocks_journaled} blocks journaled, "
        f"{time.monotonic() - started:.1f} s after the drop"
    )

    def moved() -> str | None:
        others = [a for a in cluster.processing(BUILD_TASK) if a != victim]
        return others[0] if others else None

    heir = wait_until(moved, timeout_s=30, what="the build task on another worker", every_s=0.05)
    heir_name = cluster.workers()[heir]["name"]
    assert heir_name != victim_name, "the task went to the killed worker's replacement"

    job = deployment.job_when(
        slide_id,
        timeout_s=180,
        what="the resumed tiling job to be done",
        ready=lambda job: job["status"] == "done",
    )
    print(f"drop to pyramid with a worker killed: {time.monotonic() - started:.1f} s")
    assert job["error"] is None
    assert job["attempts"] == 1  # the task moved; the job was not run again from the queue
    with read_session(deployment.engine) as session:
        rows = list(session.scalars(select(TilingJob).where(TilingJob.slide_id == slide_id)))
    assert [row.status for row in rows] == [JobStatus.DONE]

    # Resumed, not restarted: the tiles of the blocks journaled before the kill were kept.
    tiles = [p for p in paths.files_dir.rglob("*") if p.is_file() and p.suffix != ".json"]
    kept = sum(1 for p in tiles if p.stat().st_mtime < killed_at)
    assert blocks_journaled > 0 and 0 < kept < len(tiles), (blocks_journaled, kept, len(tiles))
    print(f"{kept} of {len(tiles)} tiles kept from before the kill")

    local_coupe_tile(source, tmp_path / "local", paths.name)
    compare_pyramids(paths.directory, tmp_path / "local", paths.name)


def test_a_backoffice_restarted_mid_job_lets_the_build_on_the_cluster_finish_the_job(
    deployment: Deployment,
) -> None:
    # A running dask task cannot be stopped: the build goes on after its runner has stopped
    # and holds the pyramid when the restarted runner claims the job again.
    source = ensure_synthetic_slide("aperio-svs", *RESTART_SLIDE_PX)
    accession, slide_id = deployment.new_slide("GHZ")
    paths = pyramid_paths(deployment.settings, slide_id)
    builds_before = sum(deployment.cluster.task_prefixes().get(BUILD_TASK, {}).values())
    started = time.monotonic()
    deployment.drop(source, "GHZ", accession)

    deployment.job_when(
        slide_id,
        timeout_s=90,
        what="the tiling job to be running",
        ready=lambda job: job["status"] == "running" and 0 < job["progress"] <= 0.2,
    )
    deployment.restart_backoffice()
    restarted_s = time.monotonic() - started

    job = deployment.job_when(
        slide_id,
        timeout_s=180,
        what="the tiling job to be done after the restart",
        ready=lambda job: job["status"] == "done",
    )
    print(
        f"drop to pyramid with coupe serve restarted at {restarted_s:.1f} s: "
        f"{time.monotonic() - started:.1f} s"
    )
    assert job["error"] is None
    assert job["attempts"] == 2  # queued again by the stopping runner, claimed once more
    with read_session(deployment.engine) as session:
        rows = list(session.scalars(select(TilingJob).where(TilingJob.slide_id == slide_id)))
    assert [row.status for row in rows] == [JobStatus.DONE]
    # The first build, at least one refused while it held the pyramid, the one that found it
    # complete.
    builds = sum(deployment.cluster.task_prefixes()[BUILD_TASK].values()) - builds_before
    assert builds >= 3, (
        f"{builds} build tasks: the first build ended before the restarted runner claimed the "
        "job again, so this run did not test a build holding the pyramid"
    )
    tiles = [p for p in paths.files_dir.rglob("*") if p.is_file() and p.suffix != ".json"]
    assert len(tiles) == job["tiles_total"] and paths.dzi.is_file()
    assert not (paths.directory / f".{paths.name}.building").exists()
