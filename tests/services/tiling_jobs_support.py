"""Helpers for the tiling job, import and upload tests: an app on a worker cluster, cases.

The cluster is the session's ``dask_cluster`` fixture (``tests/conftest.py``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.app import create_app
from services.settings import Settings
from services.state import AppState
from tests.services.conftest import ServiceHarness
from tiling.samples import fetch_sample
from worklist.actor import Actor
from worklist.db import read_session
from worklist.models import Block, Slide, Specimen, TilingJob
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    CaseState,
    SlideIntake,
    SpecimenIntake,
    intake_case,
)
from worklist.region import default_region
from worklist.seeding import import_region


def settings_for(data_dir: Path, scheduler: str | None) -> Settings:
    """Test settings: no background threads, jobs on ``scheduler`` (None: the app's own)."""
    return Settings(
        data_dir=data_dir,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
        dask_scheduler=scheduler,
        import_poll_s=0.5,
        job_poll_s=0.5,
    )


@contextmanager
def running_service(settings: Settings, *, seed: bool = True) -> Iterator[ServiceHarness]:
    """The app on ``settings``; with ``seed``, the six departments are imported first."""
    with TestClient(create_app(settings)) as client:
        harness = ServiceHarness(client, settings)
        if seed:
            import_region(engine=harness.engine, actor=Actor.system(), region=default_region())
        yield harness


def app_state(service: ServiceHarness) -> AppState:
    """The running app's state (job runner, importer)."""
    state: AppState = service.client.app.state.coupe  # type: ignore[attr-defined]
    return state


def new_case(
    service: ServiceHarness, department: str = "ALR", *, file_path: Path | None = None
) -> CaseState:
    """A case with specimen A, block A1 and one H&E slide (scanned if ``file_path``)."""
    return intake_case(
        engine=service.engine,
        actor=Actor.system(),
        case=CaseIntake(
            department=department,
            patient_pseudonym=f"PSN-{department}",
            tumour_group="gastro-intestinal",
            category=2,
            specimens=[
                SpecimenIntake(
                    "A",
                    blocks=[
                        BlockIntake(
                            "A1",
                            slides=[SlideIntake(file_path=str(file_path) if file_path else None)],
                        )
                    ],
                )
            ],
        ),
    )


def slides_of(service: ServiceHarness, case_id: int) -> list[Slide]:
    """The case's slides, in id order."""
    with read_session(service.engine) as session:
        return list(
            session.scalars(
                select(Slide)
                .join(Block, Slide.block_id == Block.id)
                .join(Specimen, Block.specimen_id == Specimen.id)
                .where(Specimen.case_id == case_id)
                .order_by(Slide.id)
            )
        )


def job_row(service: ServiceHarness, job_id: int) -> TilingJob:
    """The job as it is in the database now."""
    with read_session(service.engine) as session:
        job = session.get(TilingJob, job_id)
        assert job is not None
        return job


def sample_copy(name: str, folder: Path, file_name: str | None = None) -> Path:
    """A copy of sample slide ``name`` in ``folder`` (keeping its old modification time)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (file_name or name)
    shutil.copy2(fetch_sample(name), target)
    return target


def crashing_task(source_path: str, out_dir: str, name: str, progress_path: str) -> int:
    """A tiling task whose worker process dies, as a reader crashing on a hostile file would."""
    import os

    os._exit(3)
