"""``coupe demo`` as the browser tests and the README use it: prepared once into its own data
directory, then served; every demo account signs in and finds cases whose slides open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from services.app import create_app
from services.cli import build_cli
from services.commands.demo_backoffice import DEMO_PASSWORD, MIN_DEMO_CASES
from services.settings import Settings
from services.tiles import PREBUILT_CACHE_CONTROL, RENDERED_CACHE_CONTROL
from worklist.db import DEFAULT_DATABASE_FILE, make_engine, read_session
from worklist.enums import CaseStatus
from worklist.models import Case

ACCOUNTS = ("admin", "manager", "hmc", "lumc", "alrijne", "alrijne2", "ghz", "haga", "rdgg")
PATHOLOGISTS = ACCOUNTS[2:]
SQUARE: dict[str, Any] = {
    "type": "Feature",
    "properties": {},
    "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [90, 0], [90, 90], [0, 90], [0, 0]]]},
}
DZI = "{http://schemas.microsoft.com/deepzoom/2008}"

runner = CliRunner()


def run_demo(data_dir: Path, *args: str) -> str:
    result = runner.invoke(
        build_cli(), ["demo", "--no-serve", *args], env={"COUPE_DATA_DIR": str(data_dir)}
    )
    assert result.exit_code == 0, result.output
    return result.output


def client_on(data_dir: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir, run_background_workers=False)))


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, f"{username}: {answer.text}"
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("demo")
    return data_dir, run_demo(data_dir)


@pytest.fixture(scope="module")
def client(demo_dir: tuple[Path, str]) -> Iterator[TestClient]:
    with client_on(demo_dir[0]) as test_client:
        yield test_client


def worklist_of(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get("/worklist/mine", params={"limit": 200}, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def slides_of(client: TestClient, headers: dict[str, str], case_id: int) -> list[dict[str, Any]]:
    answer = client.get(f"/cases/{case_id}/slides", headers=headers)
    assert answer.status_code == 200, answer.text
    slides: list[dict[str, Any]] = answer.json()["items"]
    return slides


@pytest.mark.slow
def test_the_demo_prints_the_url_the_accounts_and_the_password(demo_dir: tuple[Path, str]) -> None:
    data_dir, output = demo_dir
    assert "http://127.0.0.1:8000/" in output
    assert DEMO_PASSWORD in output
    for username in ACCOUNTS:
        assert f" {username} " in output
    # One data directory: its default database, no data_dir/demo subfolder.
    assert (data_dir / DEFAULT_DATABASE_FILE).exists()
    assert not (data_dir / "demo").exists()


@pytest.mark.slow
def test_every_demo_account_signs_in_with_the_password(client: TestClient) -> None:
    for username in ACCOUNTS:
        me = client.get("/auth/me", headers=sign_in(client, username))
        assert me.status_code == 200, me.text
        assert me.json()["username"] == username


@pytest.mark.slow
def test_every_case_on_a_demo_worklist_has_slides_that_open(client: TestClient) -> None:
    cache_controls: set[str] = set()
    for username in PATHOLOGISTS:
        headers = sign_in(client, username)
        items = worklist_of(client, headers)
        primary_assigned = [
            i for i in items if i["kind"] == "primary" and i["case"]["status"] == "assigned"
        ]
        assert len(primary_assigned) >= MIN_DEMO_CASES, username
        stains: set[str] = set()
        for item in items:
            slides = slides_of(client, headers, item["case"]["id"])
            assert 1 <= len(slides) <= 4, item["case"]["accession_number"]
            stains |= {s["stain"] for s in slides}
            first = slides[0]
            descriptor = client.get(first["dzi_url"], headers=headers)
            assert descriptor.status_code == 200, descriptor.text
            size = ET.fromstring(descriptor.text).find(f"{DZI}Size")
            assert size is not None and int(size.attrib["Width"]) >= 2220
            tile = client.get(f"/slides/{first['id']}_files/9/0_0.jpeg", headers=headers)
            assert tile.status_code == 200, tile.text
            assert tile.headers["content-type"] == "image/jpeg"
            cache_controls.add(tile.headers["cache-control"])
        assert "H&E" in stains and stains - {"H&E"}, f"{username} has no IHC next to an H&E"
    # Some slides come from pre-built pyramids, the others are tiled on the fly.
    assert cache_controls == {PREBUILT_CACHE_CONTROL, RENDERED_CACHE_CONTROL}


@pytest.mark.slow
def test_slides_carry_the_samples_resolution_for_the_scale_bar(client: TestClient) -> None:
    headers = sign_in(client, "alrijne")
    case_id = worklist_of(client, headers)[0]["case"]["id"]
    for slide in slides_of(client, headers, case_id):
        facts = client.get(f"/slides/{slide['id']}", headers=headers).json()
        assert (facts["mpp_x_um"], facts["mpp_y_um"]) == (0.499, 0.499)


@pytest.mark.slow
def test_the_week_ends_today_so_nothing_is_long_overdue(demo_dir: tuple[Path, str]) -> None:
    engine = make_engine(f"sqlite:///{demo_dir[0] / DEFAULT_DATABASE_FILE}", pool_size=1)
    try:
        with read_session(engine) as session:
            open_cases = Case.status != CaseStatus.SIGNED_OUT
            newest = session.scalar(select(func.max(Case.received_at)))
            earliest_due = session.scalar(select(func.min(Case.due_at)).where(open_cases))
            oldest, last_signed_out = session.execute(
                select(func.min(Case.received_at), func.max(Case.signed_out_at)).where(~open_cases)
            ).one()
    finally:
        engine.dispose()
    assert newest is not None and earliest_due is not None
    today = datetime.now(UTC)
    assert newest.date() == today.date()
    assert earliest_due > today - timedelta(days=14)
    # Before the week, a year of history, all of it signed out before today.
    assert oldest.date() <= today.date() - timedelta(days=365)
    assert last_signed_out.date() < today.date()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.slow
def test_coupe_demo_serves_and_ctrl_c_stops_it_cleanly(demo_dir: tuple[Path, str]) -> None:
    port = free_port()
    coupe = Path(sys.executable).with_name("coupe")
    process = subprocess.Popen(
        [str(coupe), "demo", "--port", str(port)],
        env={**os.environ, "COUPE_DATA_DIR": str(demo_dir[0])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as up:
                    if up.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, "the demo did not answer /health in 60 s"
            time.sleep(0.25)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "reusing it" in output
    assert f"http://127.0.0.1:{port}/" in output
    assert "Ctrl-C stops the platform" in output


@pytest.mark.slow
def test_a_second_run_reuses_the_demo_and_reset_rebuilds_it(
    demo_dir: tuple[Path, str], client: TestClient
) -> None:
    data_dir = demo_dir[0]
    headers = sign_in(client, "alrijne")
    case_id = worklist_of(client, headers)[0]["case"]["id"]
    slide_id = slides_of(client, headers, case_id)[0]["id"]
    path = f"/slides/{slide_id}/annotations"
    made = client.post(path, json={"geojson": SQUARE, "label": "kept"}, headers=headers)
    assert made.status_code == 201, made.text

    again = run_demo(data_dir)
    assert "reusing it" in again
    with client_on(data_dir) as fresh:
        listed = fresh.get(path, headers=sign_in(fresh, "alrijne")).json()["items"]
        assert [a["label"] for a in listed] == ["kept"]

    rebuilt = run_demo(data_dir, "--reset")
    assert "--reset" in rebuilt and "reusing" not in rebuilt
    with client_on(data_dir) as fresh:
        headers = sign_in(fresh, "alrijne")
        assert worklist_of(fresh, headers)
        assert fresh.get(path, headers=headers).json()["items"] == []


def test_a_data_directory_that_is_no_demo_is_left_alone(tmp_path: Path) -> None:
    database = tmp_path / DEFAULT_DATABASE_FILE
    database.write_bytes(b"someone's data")
    result = runner.invoke(
        build_cli(), ["demo", "--no-serve"], env={"COUPE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "not a prepared demo" in result.output and "--reset" in result.output
    assert "Traceback" not in result.output
    assert database.read_bytes() == b"someone's data"
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEFAULT_DATABASE_FILE]
