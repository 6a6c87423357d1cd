"""Bounded input before any route: body size, JSON only, no unknown fields."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.settings import Settings
from tests.services.conftest import PASSWORD, ServiceHarness
from tests.services.tiling_jobs_support import new_case, running_service
from tiling.samples import fetch_sample
from worklist.enums import Role

MB = 1024 * 1024
LOGIN = {"username": "manager", "password": PASSWORD}


@pytest.fixture
def manager(service: ServiceHarness) -> dict[str, str]:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    headers = service.headers("manager")
    service.client.cookies.clear()
    return headers


def _assert_error(answer: object, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "detail"} and body["error"] == code


# --- Body size --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/auth/login", "/cases", "/cases/1/claim", "/no-such-route"])
def test_a_24_mb_json_body_is_refused_at_once_before_authentication(
    service: ServiceHarness, url: str
) -> None:
    body = b'{"username": "' + b"a" * (24 * MB) + b'"}'
    started = time.perf_counter()
    answer = service.client.post(url, content=body, headers={"Content-Type": "application/json"})
    elapsed_s = time.perf_counter() - started
    _assert_error(answer, 413, "too_large")
    assert "1048576 bytes" in answer.json()["detail"]
    assert elapsed_s < 1.0


def test_a_chunked_body_is_refused_while_it_streams_in(service: ServiceHarness) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"username": "'
        for _ in range(64):
            yield b"a" * (64 * 1024)
        yield b'"}'

    answer = service.client.post(
        "/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _assert_error(answer, 413, "too_large")


def test_the_json_limit_is_a_setting(service: ServiceHarness, tmp_path: Path) -> None:
    settings = replace_settings(service.settings, tmp_path / "small", max_json_bytes=200)
    with running_service(settings) as small:
        small.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
        assert small.client.post("/auth/login", json=LOGIN).status_code == 200
        padded = {**LOGIN, "password": PASSWORD + " " * 300}
        _assert_error(small.client.post("/auth/login", json=padded), 413, "too_large")


def test_uploads_keep_their_own_streamed_limit(service: ServiceHarness, tmp_path: Path) -> None:
    settings = replace_settings(service.settings, tmp_path / "small", max_json_bytes=1024)
    with running_service(settings) as small:
        small.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
        case = new_case(small, "HMC")
        content = fetch_sample("CMU-1-Small-Region.svs").read_bytes()
        assert len(content) > 1024
        answer = small.client.post(
            f"/cases/{case.case_id}/slides",
            files={"file": ("scan.svs", content, "application/octet-stream")},
            headers=small.headers("manager"),
        )
        assert answer.status_code == 201, answer.text


def replace_settings(settings: Settings, data_dir: Path, **changes: object) -> Settings:
    """``settings`` on another data folder, with ``changes``."""
    values = {**settings.model_dump(), "data_dir": data_dir, **changes}
    return Settings(**values)


# --- JSON only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"username": "manager", "password": "x"}', "text/plain"),
        (b"username=manager&password=x", "application/x-www-form-urlencoded"),
        (
            b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b'{"username": "manager", "password": "x"}', None),
    ],
)
def test_only_json_bodies_reach_a_json_route(
    service: ServiceHarness, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for url in ("/auth/login", "/cases", "/cases/1/claim"):
        answer = service.client.post(url, content=content, headers=headers)
        # Refused before parsing and before authentication.
        _assert_error(answer, 415, "unsupported_media_type")


def test_json_with_a_charset_and_empty_bodies_pass(
    service: ServiceHarness, manager: dict[str, str]
) -> None:
    login = service.client.post(
        "/auth/login",
        content=b'{"username": "manager", "password": "%s"}' % PASSWORD.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert login.status_code == 200, login.text
    # A route that takes no body: no Content-Type needed.
    assert service.client.post("/auth/logout", headers=manager).status_code == 204


# --- No unknown fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/cases/1/sign-out", {"conclusion": "benign naevus"}, "conclusion"),
        ("/cases/1/sign-out", {"expected_version": 1, "conclusion": "benign"}, "conclusion"),
        ("/auth/login", {**LOGIN, "remember_me": True}, "remember_me"),
        ("/cases/1/comments", {"text": "see block A2", "urgent": True}, "urgent"),
        (
            "/cases",
            {
                "department_code": "HMC",
                "patient_pseudonym": "PSN-1",
                "tumour_group": "gastro-intestinal",
                "category": 2,
                "specimens": [{"label": "A", "blocks": [{"label": "A1", "colour": "red"}]}],
            },
            "colour",
        ),
    ],
)
def test_an_unknown_field_is_refused_not_dropped(
    service: ServiceHarness, manager: dict[str, str], url: str, body: object, field: str
) -> None:
    answer = service.client.post(url, json=body, headers=manager)
    _assert_error(answer, 422, "invalid_request")
    assert field in answer.json()["detail"]


def test_every_json_request_schema_forbids_unknown_fields(service: ServiceHarness) -> None:
    spec = service.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    refs: set[str] = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                refs.update(_refs(content["application/json"]["schema"], schemas))
    assert len(refs) >= 15
    for name in sorted(refs):
        assert schemas[name].get("additionalProperties") is False, name


def _refs(schema: object, schemas: dict[str, dict[str, object]]) -> set[str]:
    """Every schema named in ``schema``, and in those, recursively."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in found and schemas[name].get("type") == "object":
                    found.add(name)
                    stack.append(schemas[name])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
