"""Tiling jobs: list and inspect them; lab managers retry failed ones.

Lab managers and administrators see every job; a pathologist sees the jobs of slides whose
case they may open (their own department's, for the list).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from sqlalchemy import select

from services.access import slide_for_viewing
from services.deps import CurrentUser, EngineDep, ManagerUser, SessionDep, StateDep
from services.errors import AccessDeniedError, ResourceNotFoundError, without_server_paths
from services.paging import Ordering, SortKey, read_page
from services.routers.params import Cursor, Limit
from services.schemas.auth import ErrorBody
from services.schemas.common import DEFAULT_PAGE_LIMIT, MAX_ID, Page
from services.schemas.jobs import JobPublic
from worklist.db import read_session
from worklist.enums import JobStatus, Role
from worklist.models import Block, Case, Slide, Specimen, TilingJob

router = APIRouter(
    prefix="/jobs",
    tags=["tiling jobs"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see or do."},
    },
)

JobId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The tiling job's id.")]
JOBS_NEWEST_FIRST = Ordering("jobs", (SortKey(TilingJob.id, "int", descending=True),))


def job_public(job: TilingJob) -> JobPublic:
    """The response body of ``job``."""
    progress = min(1.0, job.tiles_done / job.tiles_total) if job.tiles_total else 0.0
    if job.status is JobStatus.DONE:
        progress = 1.0
    return JobPublic.model_validate(
        {
            **{name: getattr(job, name) for name in JobPublic.model_fields if name != "progress"},
            "progress": progress,
            # The worker's message names the slide file by its server path: the name will do.
            "error": without_server_paths(job.error) if job.error else job.error,
        }
    )


def _visible_job(session: SessionDep, user: CurrentUser, job_id: int) -> TilingJob:
    job = session.get(TilingJob, job_id)
    if job is None:
        raise ResourceNotFoundError(f"tiling job {job_id} does not exist")
    if user.role in (Role.LAB_MANAGER, Role.ADMIN):
        return job
    if job.slide_id is None:
        raise AccessDeniedError(f"tiling job {job_id} belongs to no slide you may see")
    slide_for_viewing(session, user, job.slide_id)
    return job


@router.get("", response_model=Page[JobPublic])
def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this state.")] = None,
    slide_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[JobPublic]:
    """Tiling jobs, newest first; pathologists see their department's."""
    query = select(TilingJob)
    if status is not None:
        query = query.where(TilingJob.status == status)
    if slide_id is not None:
        query = query.where(TilingJob.slide_id == slide_id)
    if user.role not in (Role.LAB_MANAGER, Role.ADMIN):
        if user.role is not Role.PATHOLOGIST or user.department_id is None:
            raise AccessDeniedError("tiling jobs are for pathologists and lab managers")
        query = (
            query.join(Slide, TilingJob.slide_id == Slide.id)
            .join(Block, Slide.block_id == Block.id)
            .join(Specimen, Block.specimen_id == Specimen.id)
            .join(Case, Specimen.case_id == Case.id)
            .where(Case.department_id == user.department_id)
        )
    return read_page(
        session, query, order=JOBS_NEWEST_FIRST, limit=limit, cursor=cursor, item=job_public
    )


@router.get(
    "/{job_id}",
    response_model=JobPublic,
    responses={404: {"model": ErrorBody, "description": "No such job."}},
)
def get_job(job_id: JobId, user: CurrentUser, session: SessionDep) -> JobPublic:
    """One tiling job: state, progress, and the error of a failed one."""
    return job_public(_visible_job(session, user, job_id))


@router.post(
    "/{job_id}/retry",
    response_model=JobPublic,
    responses={
        404: {"model": ErrorBody, "description": "No such job."},
        409: {"model": ErrorBody, "description": "The job has not failed."},
    },
)
def retry_job(job_id: JobId, manager: ManagerUser, state: StateDep, engine: EngineDep) -> JobPublic:
    """Queue a failed job again (lab managers and administrators)."""
    state.jobs.retry(job_id=job_id, actor=manager.actor)
    with read_session(engine) as session:
        job = session.get(TilingJob, job_id)
        assert job is not None
        return job_public(job)
