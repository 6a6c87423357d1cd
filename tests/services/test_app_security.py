"""What every answer carries and names: security headers, trusted hosts, the docs page."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.settings import Settings
from services.tiles import RENDERED_CACHE_CONTROL
from tests.services.conftest import ServiceHarness
from tests.services.test_slides import add_slide, copy_sample
from worklist.enums import Role


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
