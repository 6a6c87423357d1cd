"""The backoffice part of ``coupe demo``: accounts, a scanned slide, its tiling job, URLs."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from services.app import start_state
from services.registration import register_slide_file
from services.security import hash_password
from services.settings import Settings
from services.storage import pyramid_paths, slide_storage_path
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import Role
from worklist.labels import SlideLabels
from worklist.models import Case, Department, Pathologist, TilingJob

DEMO_PASSWORD = "coupe-demo-password"
"""The password of every demo account (printed by the demo; demo data only)."""


def run_backoffice_demo(console: Console, demo_dir: Path, slide_file: Path) -> None:
    """Give the demo database accounts, scan ``slide_file`` into a case, tile it as a job.

    ``demo_dir`` holds the worklist demo's database (its default SQLite file); it becomes the
    data directory of a backoffice that ``COUPE_DATA_DIR=<demo_dir> coupe serve`` serves.
    """
    settings = Settings(data_dir=demo_dir, run_background_workers=False)
    state = start_state(settings)
    try:
        system = Actor.system("coupe-demo")
        with read_session(state.engine) as session:
            case = session.scalars(
                select(Case).join(Department).where(Department.code == "ALR").order_by(Case.id)
            ).first()
            pathologist = session.scalars(
                select(Pathologist)
                .join(Department)
                .where(Department.code == "ALR")
                .order_by(Pathologist.code)
            ).first()
            if case is None or pathologist is None:
                raise RuntimeError("the worklist demo left no Alrijne case or pathologist")
            case_id, accession = case.id, case.accession_number
            pathologist_code = pathologist.code
        accounts = [
            ("admin", "Demo administrator", Role.ADMIN, None, None),
            ("manager", "Demo lab manager", Role.LAB_MANAGER, "HMC", None),
            ("alrijne", f"{pathologist.name} (demo)", Role.PATHOLOGIST, None, pathologist_code),
        ]
        password_hash = hash_password(DEMO_PASSWORD)
        for username, display_name, role, department, linked in accounts:
            create_user(
                engine=state.engine,
                actor=system,
                user=NewUser(username, display_name, password_hash, role, department, linked),
            )
        stored = slide_storage_path(settings, accession, f"{accession}_A1_HE{slide_file.suffix}")
        stored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(slide_file, stored)
        registration = register_slide_file(
            engine=state.engine,
            settings=settings,
            actor=system,
            case_id=case_id,
            labels=SlideLabels(specimen="A", block="A1", stain="H&E"),
            file_path=stored,
            origin="demo",
        )
        console.print(
            f"Scanned {slide_file.name} into case {accession} (slide {registration.slide_id}); "
            "tiling job queued, running on a local dask cluster of worker processes..."
        )
        state.jobs.run_pending()
        with read_session(state.engine) as session:
            job = session.get(TilingJob, registration.job_id)
            assert job is not None
            outcome = f"{job.status.value}, {job.tiles_done:,} of {job.tiles_total:,} tiles"
            if job.error:
                outcome += f": {job.error}"
        console.print(f"Tiling job {registration.job_id}: {outcome}")
        console.print(f"Pyramid: {pyramid_paths(settings, registration.slide_id).dzi}")
        table = Table(title=f"Demo accounts (password: {DEMO_PASSWORD})")
        for column in ("username", "role", "sees"):
            table.add_column(column)
        table.add_row("admin", "admin", "the region; manages accounts")
        table.add_row("manager", "lab manager (HMC)", "the regional queue; label and macro")
        table.add_row("alrijne", "pathologist (ALR)", "Alrijne's cases and their slides")
        console.print(table)
        slide = registration.slide_id
        console.print(
            "Start the backoffice on the demo data:\n"
            f"  COUPE_DATA_DIR={demo_dir} .venv/bin/coupe serve\n"
            "then sign in (POST /auth/login) and open http://127.0.0.1:8000/docs, "
            f"or point OpenSeadragon at http://127.0.0.1:8000/slides/{slide}.dzi"
        )
    finally:
        state.close()
