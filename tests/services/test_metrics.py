"""``/metrics``: who may read it, what tiles, jobs, assignments, sign-ins and the audit show.

Real apps on their own data folders; the several-process case runs ``coupe serve --workers 2``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.app import create_app
from services.metrics import CoupeMetrics, prepare_multiprocess_dir, quantile_from_buckets
from services.settings import Settings
from services.storage import pyramid_paths
from tests.postgres_support import postgres_schema
from tests.services.conftest import PASSWORD, ServiceHarness
from tests.services.tiling_jobs_support import new_case
from tests.services.worklist_api_support import first_slide
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import fetch_sample
from tiling.spec import TileSpec
from worklist.actor import Actor
from worklist.audit import seal_pending
from worklist.db import make_engine
from worklist.enums import AssignmentKind, JobStatus, PyramidStatus, Role
from worklist.migrate import upgrade_database
from worklist.models import Pathologist, TilingJob
from worklist.operations import assign_case, set_pyramid_status
from worklist.region import default_region
from worklist.seeding import import_region

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

LOOPBACK = ("127.0.0.1", 50000)
TOKEN = "scrape-token-for-tests"
SERVE_START_TIMEOUT_S = 120  # two workers importing everything on a busy 2-core machine


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
        **overrides,  # type: ignore[arg-type]
    )


def harness(
    settings: Settings, client: tuple[str, int] = LOOPBACK, *, seed: bool = True
) -> Iterator[ServiceHarness]:
    with TestClient(create_app(settings), client=client) as test_client:
        service = ServiceHarness(test_client, settings)
        if seed:
            import_region(engine=service.engine, actor=Actor.system(), region=default_region())
        yield service


@pytest.fixture
def local(tmp_path: Path) -> Iterator[ServiceHarness]:
    """An app whose test client comes from 127.0.0.1 (no metrics token)."""
    yield from harness(settings_for(tmp_path / "data"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the embedded SQLite file), or a fresh schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema("coupe_metrics") as url:
        yield url


@pytest.fixture
def on_database(tmp_path: Path, database_url: str | None) -> Iterator[ServiceHarness]:
    """Like ``local``, on SQLite and on PostgreSQL."""
    yield from harness(settings_for(tmp_path / "data", database_url=database_url))


def scrape(
    service: ServiceHarness, **headers: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics`` by (name, labels), parsed as Prometheus parses it."""
    answer = service.client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


# --- Who may read it ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_without_a_token_loopback_clients_read_the_metrics(tmp_path: Path, host: str) -> None:
    for service in harness(settings_for(tmp_path / "data"), client=(host, 40000), seed=False):
        assert value(scrape(service), "coupe_database_up") == 1.0


@pytest.mark.parametrize("host", ["10.0.0.7", "2001:db8::1", "testclient"])
def test_without_a_token_other_clients_are_refused(tmp_path: Path, host: str) -> None:
    for service in harness(settings_for(tmp_path / "data"), client=(host, 40000), seed=False):
        answer = service.client.get("/metrics")
        assert answer.status_code == 403
        assert answer.json()["error"] == "forbidden"
        assert "loopback" in answer.json()["detail"]
        assert "COUPE_METRICS_TOKEN" in answer.json()["detail"]


def test_with_a_token_the_bearer_token_is_required_from_anywhere(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", metrics_token=TOKEN)
    for service in harness(settings, client=LOOPBACK, seed=False):  # loopback is no longer enough
        missing = service.client.get("/metrics")
        assert missing.status_code == 403
        assert "bearer token" in missing.json()["detail"]
        wrong = service.client.get("/metrics", headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 403
        assert wrong.json()["detail"] == "wrong metrics token"
        basic = service.client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 403
        assert TOKEN not in missing.text + wrong.text + basic.text
    for service in harness(settings, client=("192.0.2.10", 40000), seed=False):
        samples = scrape(service, Authorization=f"Bearer {TOKEN}")
        assert value(samples, "coupe_database_up") == 1.0


# --- Tiles -------------------------------------------------------------------------------------


def hmc_slide(service: ServiceHarness) -> tuple[int, Path]:
    target = service.settings.slide_dir / "CMU-1-Small-Region.svs"
    if not target.exists():
        shutil.copyfile(fetch_sample("CMU-1-Small-Region.svs"), target)
    case = new_case(service, "HMC", file_path=target)
    return first_slide(service, case.case_id), target


def test_tile_answers_show_in_the_histogram_by_source(local: ServiceHarness) -> None:
    local.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
    headers = local.headers("hmc_path")
    local.client.cookies.clear()
    rendered_id, path = hmc_slide(local)
    prebuilt_id, _ = hmc_slide(local)
    paths = pyramid_paths(local.settings, prebuilt_id)
    build_pyramid(path, paths.directory, PyramidOptions(spec=TileSpec()), name=paths.name)
    set_pyramid_status(engine=local.engine, slide_id=prebuilt_id, status=PyramidStatus.READY)

    for url in (
        f"/slides/{rendered_id}_files/11/0_0.jpeg",  # rendered on the fly
        f"/slides/{rendered_id}_files/11/0_0.jpeg",  # the same: from the tile cache
        f"/slides/{prebuilt_id}_files/11/0_0.jpeg",  # a pyramid file
        f"/slides/{prebuilt_id}_files/11/1_0.jpeg",
    ):
        assert local.client.get(url, headers=headers).status_code == 200
    missing = local.client.get(f"/slides/{prebuilt_id}_files/11/99_99.jpeg", headers=headers)
    assert missing.status_code == 404  # not counted: no tile was answered

    samples = scrape(local)
    latency = "coupe_tile_latency_seconds"
    for source, count in (("rendered", 1), ("cache", 1), ("prebuilt", 2)):
        assert value(samples, f"{latency}_count", source=source) == count, source
        assert value(samples, "coupe_tiles_served_total", source=source) == count
        assert value(samples, f"{latency}_bucket", source=source, le="+Inf") == count
        assert 0 < value(samples, f"{latency}_sum", source=source) < 5 * count
    # A pyramid file answers in well under a second, also on a busy test machine.
    assert value(samples, f"{latency}_bucket", source="prebuilt", le="1.0") == 2

    figures = local.client.app.state.coupe.metrics.live_figures()  # type: ignore[attr-defined]
    assert figures.tiles_served == 4
    assert figures.tile_latency["prebuilt"].count == 2
    p50, p99 = figures.tile_latency["prebuilt"].p50_ms, figures.tile_latency["prebuilt"].p99_ms
    assert p50 is not None and p99 is not None and 0 < p50 <= p99 <= 1000
    assert figures.tile_latency["rendered"].count == 1


def test_quantiles_interpolate_within_the_bucket_as_prometheus_does() -> None:
    buckets = [(0.01, 50.0), (0.02, 90.0), (0.05, 100.0), (float("inf"), 100.0)]
    assert quantile_from_buckets(0.5, buckets) == pytest.approx(0.01)
    assert quantile_from_buckets(0.7, buckets) == pytest.approx(0.015)
    assert quantile_from_buckets(0.99, buckets) == pytest.approx(0.047)
    assert quantile_from_buckets(0.5, [(0.01, 0.0), (float("inf"), 0.0)]) is None
    # Beyond the last finite bound, the bound itself (nothing better is known).
    assert quantile_from_buckets(0.99, [(0.01, 1.0), (float("inf"), 10.0)]) == 0.01


# --- From the database -------------------------------------------------------------------------


def add_job(
    session: Session, status: JobStatus, *, took_s: float | None = None, finished_ago_s: float = 0
) -> None:
    now = datetime.now(UTC) - timedelta(seconds=finished_ago_s)
    started = now - timedelta(seconds=took_s) if took_s is not None else None
    session.add(
        TilingJob(
            slide_id=None,
            source_path="/nowhere.svs",
            output_dir="/nowhere",
            pyramid_name="slide",
            status=status,
            created_at=now,
            started_at=started if status != JobStatus.QUEUED else None,
            finished_at=now if status in (JobStatus.DONE, JobStatus.FAILED) else None,
        )
    )


def test_jobs_assignments_sign_ins_and_the_audit_chain_come_from_the_database(
    on_database: ServiceHarness,
) -> None:
    local = on_database
    with Session(local.engine) as session, session.begin():
        for _ in range(3):
            add_job(session, JobStatus.QUEUED)
        add_job(session, JobStatus.RUNNING, took_s=5)
        add_job(session, JobStatus.DONE, took_s=20)
        add_job(session, JobStatus.DONE, took_s=400)
        add_job(session, JobStatus.FAILED, took_s=3)
        add_job(session, JobStatus.DONE, took_s=9, finished_ago_s=2 * 3600)  # before the hour
    case = new_case(local, "HMC", file_path=Path("scans/elsewhere.svs"))  # scanned: assignable
    with Session(local.engine) as session:
        hmc01 = session.scalar(select(Pathologist.id).where(Pathologist.code == "HMC-01"))
    assert hmc01 is not None
    assign_case(
        engine=local.engine,
        actor=Actor.system(),
        case_id=case.case_id,
        pathologist_id=hmc01,
        kind=AssignmentKind.PRIMARY,
    )
    local.add_user("someone", Role.PATHOLOGIST, pathologist_code="HMC-02")
    wrong = local.client.post("/auth/login", json={"username": "someone", "password": "no"})
    assert wrong.status_code == 401
    local.client.post("/auth/login", json={"username": "nobody", "password": PASSWORD})
    seal_pending(local.engine)

    samples = scrape(local)
    for status, count in (("queued", 3), ("running", 1), ("done", 3), ("failed", 1)):
        assert value(samples, "coupe_tiling_jobs", status=status) == count
    assert value(samples, "coupe_tiling_jobs_finished_last_hour", outcome="done") == 2
    assert value(samples, "coupe_tiling_jobs_finished_last_hour", outcome="failed") == 1
    duration = "coupe_tiling_job_duration_last_hour_seconds"
    assert value(samples, duration, quantile="0.5") == pytest.approx(20, abs=0.01)
    assert value(samples, duration, quantile="1.0") == pytest.approx(400, abs=0.01)
    assert 4 < value(samples, "coupe_tiling_job_longest_running_seconds") < 60
    assert value(samples, "coupe_assignments_total") == 1
    assert value(samples, "coupe_sign_in_failures_total", reason="wrong_password") == 1
    assert value(samples, "coupe_sign_in_failures_total", reason="unknown_user") == 1
    assert value(samples, "coupe_sign_in_failures_recent") == 2
    # Sealed just now (the sign-ins' records are the newest): a young head, nothing waiting.
    assert 0 <= value(samples, "coupe_audit_chain_head_age_seconds") < 60
    assert value(samples, "coupe_audit_unsealed_records") == 0
    assert value(samples, "coupe_audit_oldest_unsealed_age_seconds") == 0

    figures = local.client.app.state.coupe.metrics.live_figures()  # type: ignore[attr-defined]
    assert (figures.jobs_queued, figures.jobs_running) == (3, 1)
    assert (figures.jobs_finished_last_hour, figures.jobs_failed_last_hour) == (3, 1)


def test_a_database_that_does_not_answer_gives_database_up_0_not_an_error(
    tmp_path: Path,
) -> None:
    # A SQLite file in a folder that does not exist: every connection fails.
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'coupe.db'}")
    try:
        metrics = CoupeMetrics(engine=engine, sign_in_window=timedelta(minutes=15))
        metrics.observe_tile(source="prebuilt", seconds=0.004)
        text = metrics.exposition().decode()
    finally:
        engine.dispose()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }
    assert samples["coupe_database_up"] == 0.0
    assert "coupe_tiling_jobs" not in text
    assert 'coupe_tiles_served_total{source="prebuilt"} 1.0' in text


# --- Several server processes ------------------------------------------------------------------

SERVER_PROCESS = """
import sys
from datetime import timedelta
from pathlib import Path
from services.metrics import CoupeMetrics
from worklist.db import make_engine
from worklist.migrate import upgrade_database

engine = make_engine(sys.argv[1])
metrics = CoupeMetrics(
    engine=engine, sign_in_window=timedelta(minutes=15), multiprocess_dir=Path(sys.argv[2])
)
if sys.argv[3] == "serve":
    for seconds in (0.002, 0.004, 0.03):
        metrics.observe_tile(source="prebuilt", seconds=seconds)
    metrics.observe_tile(source="rendered", seconds=0.08)
else:
    figures = metrics.live_figures()
    print(figures.tiles_served, figures.tile_latency["prebuilt"].count,
          figures.tile_latency["rendered"].count, figures.tile_latency["cache"].count)
    sys.stdout.write(metrics.exposition().decode())
engine.dispose()
"""


def test_metrics_written_by_several_processes_are_summed_by_any_of_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coupe.db'}"
    upgrade_database(url)
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}

    def process(role: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", SERVER_PROCESS, url, str(folder), role],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    process("serve")
    process("serve")
    first, _, text = process("read").partition("\n")
    assert first.split() == ["8", "6", "2", "0"]
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert value(samples, "coupe_tiles_served_total", source="prebuilt") == 6
    assert value(samples, "coupe_tile_latency_seconds_bucket", source="prebuilt", le="0.005") == 4
    assert value(samples, "coupe_tile_latency_seconds_count", source="rendered") == 2
    assert value(samples, "coupe_database_up") == 1  # the database figures once, not per process


def test_each_coupe_serve_gets_a_fresh_metrics_folder_and_stale_ones_go(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    base = data_dir / "metrics"
    host = socket.gethostname()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = base / f"{host}-{dead}"  # a coupe serve of this host that stopped without cleaning
    elsewhere = base / "another-host-1"  # a replica in another container: not ours to judge
    mine_before = base / f"{host}-{os.getpid()}"  # this very name from an earlier life
    for folder in (stale, elsewhere, mine_before):
        folder.mkdir(parents=True)
        (folder / "counter_1.db").write_bytes(b"old")
    mine = prepare_multiprocess_dir(data_dir)
    assert mine == mine_before.resolve()
    assert list(mine.iterdir()) == []
    assert not stale.exists()
    assert (elsewhere / "counter_1.db").exists()
    assert oct(mine.stat().st_mode & 0o777) == "0o700"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, *, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", "Connection": "close"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def counted_by_each_process(folder: Path, metric: str) -> dict[str, float]:
    """What each server process wrote for sample ``metric`` (its file's values summed)."""
    counted = {}
    for path in folder.glob("counter_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))
        pid = path.stem.removeprefix("counter_")
        counted[pid] = sum(value for key, value, *_ in values if json.loads(key)[1] == metric)
    return counted


@pytest.mark.slow
def test_coupe_serve_with_two_workers_sums_their_metrics(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "COUPE_DATA_DIR": str(data_dir),
        "COUPE_RUN_BACKGROUND_WORKERS": "false",
        # After the first refusal every sign-in is throttled: counted, and no password hashed.
        "COUPE_SIGN_IN_FAILURES_PER_ADDRESS": "1",
    }
    for name in ("COUPE_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "COUPE_METRICS_TOKEN"):
        env.pop(name, None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    coupe = [sys.executable, "-c", "from services.cli import main; main()"]
    command = [*coupe, "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVE_START_TIMEOUT_S
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if get(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        (folder,) = (data_dir / "metrics").iterdir()
        # Each refused sign-in is counted by whichever worker took its connection.
        attempts = 40
        for n in range(attempts):
            body = f'{{"username": "nobody-{n}", "password": "x"}}'.encode()
            assert get(f"{base}/auth/login", data=body)[0] in (401, 429)
        each = counted_by_each_process(folder, "coupe_sign_in_failures_total")
        assert len(each) == 2 and all(each.values()), f"one worker took every request: {each}"
        for _ in range(6):  # whichever worker answers, it shows the sum of both
            status, text = get(f"{base}/metrics")
            assert status == 200, text
            counted = sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "coupe_sign_in_failures_total"
            )
            assert counted == attempts
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert not folder.exists(), "coupe serve leaves no metrics files behind"
