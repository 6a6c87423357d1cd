"""What every answer carries and names: security headers, trusted hosts, the docs page."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from services.app import create_app
from services.routers.jobs import job_public
from services.settings import Settings
from services.storage import slide_storage_path, store_slide_file
from services.tiles import RENDERED_CACHE_CONTROL
from tests.services.conftest import ServiceHarness
from tests.services.test_slides import add_slide, copy_sample
from tests.services.tiling_jobs_support import new_case
from tests.services.worklist_api_support import first_slide
from tiling.samples import fetch_sample
from worklist.enums import JobStatus, Role
from worklist.models import TilingJob


def _directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.fixture
def admin(service: ServiceHarness) -> dict[str, str]:
    service.add_user("admin", Role.ADMIN)
    headers = service.headers("admin")
    service.client.cookies.clear()
    return headers


def _app_client(tmp_path: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(
            Settings(
                data_dir=tmp_path / "data",
                secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
                run_background_workers=False,
                **settings,  # type: ignore[arg-type]
            )
        )
    )


@pytest.fixture
def tls_client(tmp_path: Path) -> Iterator[TestClient]:
    with _app_client(tmp_path, behind_tls=True) as client:
        yield client


# --- Security headers -------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    answers = {
        "ok": service.client.get("/health"),
        "json data": service.client.get("/departments", headers=admin),
        "401": service.client.get("/cases"),
        "404 route": service.client.get("/no-such-route"),
        "422": service.client.get("/cases/0", headers=admin),
    }
    for what, answer in answers.items():
        policy = _directives(answer.headers["content-security-policy"])
        assert policy["default-src"] == "'self'", what
        assert policy["frame-ancestors"] == "'none'", what
        assert policy["base-uri"] == "'none'", what
        assert policy["form-action"] == "'self'", what
        assert "unsafe-inline" not in answer.headers["content-security-policy"], what
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["referrer-policy"] == "no-referrer", what
        assert answer.headers["x-frame-options"] == "DENY", what
        # Plain HTTP by default: no HSTS.
        assert "strict-transport-security" not in answer.headers, what
        # Patient data (and errors about it) is not kept by any cache.
        assert answer.headers["cache-control"] == "no-store", what


def test_hsts_only_behind_tls(tls_client: TestClient) -> None:
    answer = tls_client.get("/health")
    hsts = answer.headers["strict-transport-security"]
    assert hsts.startswith("max-age=") and int(hsts.split(";")[0].split("=")[1]) >= 31536000


def test_tiles_and_images_keep_their_private_caching(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    slide_id = add_slide(service, "HMC", copy_sample(service, "CMU-1-Small-Region.svs"))
    tile = service.client.get(f"/slides/{slide_id}_files/11/1_2.jpeg", headers=admin)
    assert tile.status_code == 200
    assert tile.headers["cache-control"] == RENDERED_CACHE_CONTROL
    assert tile.headers["cache-control"].startswith("private")
    assert tile.headers["x-content-type-options"] == "nosniff"
    thumbnail = service.client.get(f"/slides/{slide_id}/thumbnail", headers=admin)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["cache-control"].startswith("private")
    descriptor = service.client.get(f"/slides/{slide_id}.dzi", headers=admin)
    assert descriptor.headers["cache-control"].startswith("private")
    metadata = service.client.get(f"/slides/{slide_id}", headers=admin)
    assert metadata.headers["cache-control"] == "no-store"


# --- Trusted hosts ----------------------------------------------------------------------------


def test_an_untrusted_host_name_is_refused(service: ServiceHarness) -> None:
    for host in ("localhost", "127.0.0.1:8000", "testserver"):
        assert service.client.get("/health", headers={"Host": host}).status_code == 200, host
    refused = service.client.get("/health", headers={"Host": "evil.example.com"})
    assert refused.status_code == 400
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_trusted_hosts_are_a_setting(tmp_path: Path) -> None:
    with _app_client(tmp_path, trusted_hosts=("coupe.hospital.nl", "*.zorg.nl")) as client:
        for host in ("coupe.hospital.nl", "viewer.zorg.nl"):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
        assert client.get("/health", headers={"Host": "localhost"}).status_code == 400


def test_trusted_hosts_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUPE_TRUSTED_HOSTS", "coupe.hospital.nl, *.zorg.nl")
    monkeypatch.setenv("COUPE_BEHIND_TLS", "true")
    settings = Settings()
    assert settings.trusted_hosts == ("coupe.hospital.nl", "*.zorg.nl")
    assert settings.behind_tls is True
    monkeypatch.setenv("COUPE_TRUSTED_HOSTS", '["a.nl"]')
    assert Settings().trusted_hosts == ("a.nl",)


# --- The API docs page ------------------------------------------------------------------------


def test_the_docs_page_loads_everything_from_the_service(service: ServiceHarness) -> None:
    page = service.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    # No CDN, no other site: hospital networks have no internet.
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in assets:
        assert url.startswith("/docs/assets/"), url
        asset = service.client.get(url)
        assert asset.status_code == 200, url
        assert types[Path(url).suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 100, url
    scripts = [url for url in assets if url.endswith(".js")]
    assert any("SwaggerUIBundle" in service.client.get(url).text for url in scripts)
    # The page asks for the service's own schema.
    assert "'/openapi.json'" in html
    assert service.client.get("/openapi.json").status_code == 200


def test_the_docs_page_runs_under_its_csp(service: ServiceHarness) -> None:
    page = service.client.get("/docs")
    policy = _directives(page.headers["content-security-policy"])
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    script_src = policy["script-src"].split()
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    # Each inline script is allowed by its own hash, and only those.
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(inline) == 1
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline
    }
    assert set(script_src) == {"'self'", *hashes}
    assert set(policy["img-src"].split()) == {"'self'", "data:"}


def test_redoc_is_not_served(service: ServiceHarness) -> None:
    assert service.client.get("/redoc").status_code == 404


# --- Files readable by the service's user only -------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_secret_key_and_data_folders_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)  # an existing, too open folder is tightened
    settings = Settings(data_dir=data_dir, run_background_workers=False)  # key kept on disk
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        for folder in (data_dir, settings.pyramid_dir, settings.slide_dir, settings.import_dir):
            assert _mode(folder) == 0o700, folder
        database = Path(make_url(settings.resolved_database_url).database or "")
        assert database.is_file()
        assert _mode(database) == 0o600
        assert _mode(data_dir / "secret_key") == 0o600


def test_uploaded_and_imported_slide_files_are_private(
    service: ServiceHarness, tmp_path: Path
) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    case = new_case(service, "HMC")
    answer = service.client.post(
        f"/cases/{case.case_id}/slides",
        files={"file": ("scan.svs", fetch_sample("small.svs").read_bytes(), "application/x")},
        headers=service.headers("manager"),
    )
    assert answer.status_code == 201, answer.text
    [stored] = [p for p in service.settings.slide_dir.rglob("*") if p.is_file()]
    assert _mode(stored) == 0o600
    assert _mode(stored.parent) == 0o700
    # The scanner import stores its files the same way.
    dropped = tmp_path / "dropped.svs"
    dropped.write_bytes(b"II*\x00")
    os.chmod(dropped, 0o644)
    target = slide_storage_path(service.settings, "HMC-T26-00001", dropped.name)
    store_slide_file(dropped, target)
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700


# --- Error texts ------------------------------------------------------------------------------


def test_slide_errors_name_the_file_not_its_server_path(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    server_folder = str(service.settings.data_dir.resolve())
    unopenable = add_slide(service, "HMC", copy_sample(service, "unopenable.tiff"))
    unreadable = add_slide(service, "HMC", copy_sample(service, "unreadable.svs"))
    vanishing = copy_sample(service, "CMU-1-Small-Region.svs")
    vanished = add_slide(service, "HMC", vanishing)
    vanishing.unlink()
    answers = [
        service.client.get(f"/slides/{unopenable}.dzi", headers=admin),
        service.client.get(f"/slides/{unopenable}/thumbnail", headers=admin),
        service.client.get(f"/slides/{unreadable}_files/4/0_0.jpeg", headers=admin),
        service.client.get(f"/slides/{vanished}.dzi", headers=admin),
    ]
    for answer, name, status in zip(
        answers,
        ("unopenable.tiff", "unopenable.tiff", "unreadable.svs", "CMU-1-Small-Region.svs"),
        (422, 422, 422, 410),
        strict=True,
    ):
        assert answer.status_code == status, answer.text
        detail = answer.json()["detail"]
        assert name in detail
        assert server_folder not in detail and "/slides/" not in detail, detail
        assert not re.search(r"(^|[\s'\"])/\w", detail), detail


def test_a_failed_jobs_error_names_no_server_path() -> None:
    job = TilingJob(
        id=7,
        slide_id=3,
        status=JobStatus.FAILED,
        tiles_done=0,
        tiles_total=10,
        error="tiling '/srv/coupe/data/slides/HMC-T26-1/abc-scan.svs' failed in the worker: "
        "SlideReadError: slide file '/srv/coupe/data/slides/HMC-T26-1/abc-scan.svs' is broken",
        attempts=1,
        created_at=datetime.now(UTC),
    )
    error = job_public(job).error
    assert error is not None and "/srv" not in error
    assert error.startswith("tiling 'abc-scan.svs' failed in the worker")


def test_a_403_names_nothing_about_the_case(service: ServiceHarness) -> None:
    service.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
    headers = service.headers("hmc_path")
    case = new_case(service, "LUMC")
    slide_id = first_slide(service, case.case_id)
    refused = [
        service.client.get(f"/cases/{case.case_id}", headers=headers),
        service.client.get(f"/cases/{case.case_id}/slides", headers=headers),
        service.client.get(f"/slides/{slide_id}", headers=headers),
        service.client.get(f"/slides/{slide_id}_files/0/0_0.jpeg", headers=headers),
        service.client.post(
            f"/cases/{case.case_id}/slides",
            files={"file": ("scan.svs", b"II*\x00", "application/x")},
            headers=headers,
        ),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert case.accession_number not in answer.text
        assert "LUMC" not in answer.text


def test_a_full_connection_pool_answers_503_not_500() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    from services.errors import error_response

    answer = error_response(PoolTimeoutError("QueuePool limit of size 10 overflow 10 reached"))
    assert answer.status_code == 503
    assert b"busy" in answer.body and b"QueuePool" not in answer.body
