"""``coupe import --once`` and ``coupe jobs list/retry`` on a real database and real slides: the
README's example name goes to the import queue with its reason, a good scan is registered and
its job queued; a failed job is retried from the command line, anything else refused in one
line with exit 2."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from services.cli import build_cli
from tests.services.tiling_jobs_support import sample_copy
from tests.worklist.conftest import MANAGER, database_url  # noqa: F401 - fixture
from worklist.db import make_engine, read_session, run_in_transaction
from worklist.enums import JobStatus
from worklist.migrate import upgrade_database
from worklist.models import ImportedFile, TilingJob
from worklist.operations import BlockIntake, CaseIntake, SlideIntake, SpecimenIntake, intake_case
from worklist.region import default_region
from worklist.seeding import import_region

runner = CliRunner()


@pytest.fixture
def engine(
    database_url: str,  # noqa: F811 - pytest's fixture injection
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dask_cluster: str,
) -> Iterator[Engine]:
    monkeypatch.setenv("COUPE_DATABASE_URL", database_url)
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COUPE_DASK_SCHEDULER", dask_cluster)
    upgrade_database(database_url)
    engine = make_engine(database_url, pool_size=2)
    import_region(engine=engine, actor=MANAGER, region=default_region())
    yield engine
    engine.dispose()


def coupe(*args: str) -> tuple[int, str]:
    result = runner.invoke(build_cli(), list(args))
    return result.exit_code, result.output


@pytest.mark.slow
def test_import_once_registers_good_scans_and_queues_the_rest_then_jobs_are_retried(
    engine: Engine, tmp_path: Path
) -> None:
    case = intake_case(
        engine=engine,
        actor=MANAGER,
        case=CaseIntake(
            department="ALR",
            patient_pseudonym="PSN-CLI",
            tumour_group="gastro-intestinal",
            category=2,
            specimens=[SpecimenIntake("A", blocks=[BlockIntake("A1", slides=[SlideIntake()])])],
        ),
    )
    folder = tmp_path / "data" / "import" / "ALR"
    good = sample_copy("small.svs", folder, f"{case.accession_number}_A1_HE.svs")
    readme = sample_copy("CMU-1-Small-Region.svs", folder, "ALR-T26-000123_A1_HE.svs")

    code, output = coupe("import", "--once", "--settle-s", "0")
    assert code == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 2, output
    assert any(line.startswith(f"registered: {good.name}") for line in lines), output
    assert any(
        line.startswith(f"rejected [no_case]: {readme.name}: no case has the accession number")
        for line in lines
    ), output
    assert not good.exists() and readme.exists()
    with read_session(engine) as session:
        rows = {Path(r.source_path).name: r for r in session.scalars(select(ImportedFile))}
        [job] = session.scalars(select(TilingJob))
    assert rows[readme.name].queue_status == "open" and rows[readme.name].problem == "no_case"

    code, output = coupe("import", "--once", "--settle-s", "0")
    assert (code, output.strip()) == (0, "nothing new in the drop folders")

    code, output = coupe("jobs", "list")
    assert code == 0, output
    assert f"{job.id:>6}  queued" in output and f"slide {job.slide_id}" in output
    code, output = coupe("jobs", "retry", str(job.id))
    assert code == 2 and output.count("\n") == 1, output
    assert "only failed jobs are retried" in output

    run_in_transaction(
        engine,
        lambda s: s.execute(
            update(TilingJob)
            .where(TilingJob.id == job.id)
            .values(status=JobStatus.FAILED, error=f"cannot open {good}")
        ),
    )
    code, output = coupe("jobs", "list", "--status", "failed")
    assert code == 0 and f"{job.id:>6}  failed" in output, output
    assert str(tmp_path) not in output, "no server paths"
    code, output = coupe("jobs", "retry", str(job.id))
    assert (code, output.strip()) == (0, f"job {job.id} queued again (queued)")
    code, output = coupe("jobs", "retry", "999999")
    assert code == 2 and output.count("\n") == 1 and "999999" in output, output
    assert os.path.exists(readme)
