"""The backoffice step of ``coupe demo``: the demo accounts and the pre-built pyramids.

Each department gets a pathologist account linked to a present pathologist of it who holds
cases after the round (the one with most primary cases in status assigned); Alrijne gets a
second (``alrijne2``), so a colleague of the same department can be shown. Every demo
pathologist gets at least one case with an H&E and an IHC of the same tissue (for the
side-by-side view), and the slides of the most urgent case on each demo worklist are tiled as
pre-built pyramids by the service's own tiling jobs; every other slide is served on the fly.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select

from services.case_queries import held_by
from services.commands.demo_slides import HE_STAIN, DemoTissue
from services.registration import register_slide_file
from services.security import hash_password
from services.state import AppState
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.db import read_session
from worklist.engine import Snapshot
from worklist.enums import AssignmentKind, CaseStatus, Role
from worklist.labels import SlideLabels
from worklist.models import Assignment, Block, Case, Pathologist, Slide, Specimen, TilingJob

__all__ = [
    "DEMO_PASSWORD",
    "MIN_DEMO_CASES",
    "DemoAccount",
    "DemoSetupError",
    "accounts_table",
    "create_demo_accounts",
    "prebuild_pyramids",
    "side_by_side_for_all",
]

DEMO_PASSWORD = "coupe-demo-password"
"""The password of every demo account (printed by the demo; demo data only)."""
MIN_DEMO_CASES = 5
"""The fewest primary cases in status assigned a demo pathologist's worklist starts with."""
_PATHOLOGIST_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("hmc", "HMC"),
    ("lumc", "LUMC"),
    ("alrijne", "ALR"),
    ("alrijne2", "ALR"),
    ("ghz", "GHZ"),
    ("haga", "HAGA"),
    ("rdgg", "RDGG"),
)
"""Username and department code of each demo pathologist account, in the order shown."""
_PROGRESS_POLL_S = 0.25


class DemoSetupError(RuntimeError):
    """The demo could not be prepared as promised (its data did not come out as planned)."""


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as the demo prints it."""

    username: str
    role: str
    department: str
    sees: str
    pathologist_id: int | None = None


def _primary_counts(engine: Engine) -> dict[int, int]:
    """Active primary assignments of cases still in status assigned, by pathologist."""
    with read_session(engine) as session:
        rows = session.execute(
            select(Assignment.pathologist_id, func.count())
            .join(Case, Case.id == Assignment.case_id)
            .where(
                Assignment.active,
                Assignment.kind == AssignmentKind.PRIMARY,
                Case.status == CaseStatus.ASSIGNED,
            )
            .group_by(Assignment.pathologist_id)
        ).all()
    return {int(pathologist_id): int(count) for pathologist_id, count in rows}


def _choose_pathologists(engine: Engine, snapshot: Snapshot) -> dict[str, Pathologist]:
    """Each account's pathologist: present at the round, most primary cases, then code."""
    counts = _primary_counts(engine)
    present = {p.pathologist_id for p in snapshot.pathologists if p.present}
    with read_session(engine) as session:
        people = list(session.scalars(select(Pathologist).where(Pathologist.active)))
        departments = {p.id: p.department.code for p in people}
    ranked = sorted(people, key=lambda p: (p.id not in present, -counts.get(p.id, 0), p.code))
    chosen: dict[str, Pathologist] = {}
    for username, department in _PATHOLOGIST_ACCOUNTS:
        candidate = next(
            (p for p in ranked if departments[p.id] == department and p not in chosen.values()),
            None,
        )
        held = counts.get(candidate.id, 0) if candidate is not None else 0
        if candidate is None or held < MIN_DEMO_CASES:
            raise DemoSetupError(
                f"no {department} pathologist left for the demo account {username!r} with "
                f"{MIN_DEMO_CASES} or more assigned cases after the round"
            )
        chosen[username] = candidate
    return chosen


def create_demo_accounts(*, engine: Engine, snapshot: Snapshot) -> list[DemoAccount]:
    """Create admin, manager and the pathologist accounts (one password, :data:`DEMO_PASSWORD`)."""
    system = Actor.system("coupe-demo")
    password_hash = hash_password(DEMO_PASSWORD)
    chosen = _choose_pathologists(engine, snapshot)
    new_users = [
        NewUser("admin", "Demo administrator", password_hash, Role.ADMIN),
        NewUser("manager", "Demo lab manager (HMC)", password_hash, Role.LAB_MANAGER, "HMC"),
    ]
    accounts = [
        DemoAccount("admin", "admin", "-", "every case in the region; manages accounts"),
        DemoAccount(
            "manager", "lab manager", "HMC", "the regional queue and tiling jobs; withdraws slides"
        ),
    ]
    for username, department in _PATHOLOGIST_ACCOUNTS:
        person = chosen[username]
        new_users.append(
            NewUser(
                username,
                f"{person.name} (demo)",
                password_hash,
                Role.PATHOLOGIST,
                pathologist_code=person.code,
            )
        )
        accounts.append(
            DemoAccount(
                username,
                "pathologist",
                department,
                f"{person.name} ({person.code}): own worklist, {department}'s cases",
                pathologist_id=person.id,
            )
        )
    for user in new_users:
        create_user(engine=engine, actor=system, user=user)
    return accounts


def _case_slides(engine: Engine, case_id: int) -> list[tuple[int, str, str, str, str | None]]:
    """(slide id, specimen, block, stain, file) of a case's slides, in case order."""
    with read_session(engine) as session:
        rows = session.execute(
            select(Slide.id, Specimen.label, Block.label, Slide.stain, Slide.file_path)
            .join(Block, Block.id == Slide.block_id)
            .join(Specimen, Specimen.id == Block.specimen_id)
            .where(Specimen.case_id == case_id)
            .order_by(Specimen.label, Block.label, Slide.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _primary_case_ids(engine: Engine, pathologist_id: int) -> list[int]:
    """The pathologist's primary cases, most urgent first (the worklist's own order)."""
    with read_session(engine) as session:
        page = held_by(session, pathologist_id=pathologist_id, limit=200, cursor=None)
    return [item.case.id for item in page.items if item.kind is AssignmentKind.PRIMARY]


def _quickest_case(engine: Engine, case_ids: Sequence[int], tissue: DemoTissue) -> int | None:
    """The first of ``case_ids`` whose slides are all of ``tissue`` (quick to tile), if any."""
    files = {str(tissue.he_file), str(tissue.ihc_file)}
    for case_id in case_ids:
        if all(row[4] in files for row in _case_slides(engine, case_id)):
            return case_id
    return None


def side_by_side_for_all(
    *, state: AppState, accounts: Sequence[DemoAccount], tissues: Sequence[DemoTissue]
) -> int:
    """Give each demo pathologist whose cases have no IHC one, scanned onto the first block of
    their most urgent case of the smallest tissue (queued for tiling, so pre-built); returns
    how many were added."""
    ihc_of = {str(t.he_file): t.ihc_file for t in tissues}
    system = Actor.system("coupe-demo")
    added = 0
    for account in accounts:
        if account.pathologist_id is None:
            continue
        case_ids = _primary_case_ids(state.engine, account.pathologist_id)
        slides = {case_id: _case_slides(state.engine, case_id) for case_id in case_ids}
        if any(s[3] != HE_STAIN for rows in slides.values() for s in rows):
            continue
        case_id = _quickest_case(state.engine, case_ids, tissues[0]) or case_ids[0]
        _, specimen, block, _, he_file = slides[case_id][0]
        register_slide_file(
            engine=state.engine,
            settings=state.settings,
            actor=system,
            case_id=case_id,
            labels=SlideLabels(specimen=specimen, block=block, stain="Ki-67"),
            file_path=ihc_of.get(he_file or "", tissues[0].ihc_file),
            origin="demo",
        )
        added += 1
    return added


def prebuild_pyramids(
    console: Console,
    *,
    state: AppState,
    accounts: Sequence[DemoAccount],
    tissues: Sequence[DemoTissue],
) -> tuple[int, int]:
    """Queue tiling jobs for the first H&E and IHC of each demo pathologist's most urgent case
    of the smallest tissue (the real CMU scan: quick to tile) and run every queued job, with a
    progress bar; the other slides are served on the fly. Returns (jobs done, jobs failed).
    """
    for account in accounts:
        if account.pathologist_id is None:
            continue
        case_ids = _primary_case_ids(state.engine, account.pathologist_id)
        case_id = _quickest_case(state.engine, case_ids, tissues[0])
        if case_id is None:
            continue
        slides = _case_slides(state.engine, case_id)
        # Its first H&E and its first IHC: what the case view opens first, and side by side.
        first_he = next((row for row in slides if row[3] == HE_STAIN), None)
        first_ihc = next((row for row in slides if row[3] != HE_STAIN), None)
        for row in (first_he, first_ihc):
            if row is not None:
                state.jobs.enqueue(slide_id=row[0])
    # The local cluster has two worker processes: keep both busy.
    state.jobs.max_parallel = max(state.jobs.max_parallel, 2)
    outcome: list[list[TilingJob]] = []
    worker = threading.Thread(
        target=lambda: outcome.append(state.jobs.run_pending()), name="coupe-demo-tiling"
    )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("Tiling jobs (pre-built pyramids)", total=None)
        worker.start()
        while worker.is_alive():
            worker.join(_PROGRESS_POLL_S)
            done, total = _job_progress(state.engine)
            bar.update(task, completed=done, total=total or None)
        done, total = _job_progress(state.engine)
        bar.update(task, completed=done, total=total or None)
    if not outcome:
        raise DemoSetupError("the tiling jobs stopped without finishing")
    failed = [job for job in outcome[0] if job.error]
    for job in failed:
        console.print(f"Tiling job {job.id} failed: {job.error}", markup=False)
    return len(outcome[0]) - len(failed), len(failed)


def _job_progress(engine: Engine) -> tuple[int, int]:
    with read_session(engine) as session:
        done, total = session.execute(
            select(func.coalesce(func.sum(TilingJob.tiles_done), 0),
                   func.coalesce(func.sum(TilingJob.tiles_total), 0))
        ).one()  # fmt: skip
    return int(done), int(total)


def accounts_table(accounts: Sequence[DemoAccount]) -> Table:
    """The demo accounts: username, role, department, what they see; the password above."""
    table = Table(title=f"Demo accounts (password for all: {DEMO_PASSWORD})")
    for column in ("username", "role", "department", "sees"):
        table.add_column(column)
    for account in accounts:
        table.add_row(account.username, account.role, account.department, account.sees)
    return table
