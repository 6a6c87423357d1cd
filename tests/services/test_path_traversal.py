"""Path traversal attempts on every route that takes a name or a path answer 4xx.

Names in paths (department and pathologist codes, accession numbers) and in queries are
checked against their patterns, so ``..``, slashes, backslashes and absolute paths never reach
a lookup. The sweep at the end puts every attempt into every path parameter of every route the
app documents, ids included, and wants a 4xx from each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import anyio
import pytest
from starlette.types import ASGIApp, Message, Scope

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import Person, first_slide, make_case, manager

ATTEMPTS = (
    "../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e",
    "..",
    "..%5C..%5Cwindows%5Cwin.ini",
    "%5C%5Cserver%5Cshare",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "C:%5CWindows%5Cwin.ini",
    "HMC%2F..%2FLUMC",
    "....%2F%2F",
    "%252e%252e%252f",
    "HMC%00",
)


@dataclass(frozen=True)
class RawAnswer:
    status_code: int
    content_type: str
    text: str


def raw_request(
    service: ServiceHarness, method: str, target: str, headers: dict[str, str]
) -> RawAnswer:
    """Send ``target`` to the app exactly as written, the way ``curl --path-as-is`` does.

    HTTP clients (httpx included) remove ``.`` and ``..`` segments before sending; attackers
    do not. The path is percent-decoded as uvicorn does, and not normalised. Redirects (a
    trailing slash) are followed, as a client would: the answer is where they end.
    """
    for _ in range(3):
        answer, location = _send_raw(service, method, target, headers)
        if location is None:
            return answer
        target = urlsplit(location)._replace(scheme="", netloc="").geturl()
    raise AssertionError(f"{target}: too many redirects")


def _send_raw(
    service: ServiceHarness, method: str, target: str, headers: dict[str, str]
) -> tuple[RawAnswer, str | None]:
    raw_path, _, query = target.encode().partition(b"?")
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode()),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    app: ASGIApp = service.client.app
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = dict(start["headers"])
    content_type = response_headers.get(b"content-type", b"").decode()
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer = RawAnswer(start["status"], content_type, body.decode(errors="replace"))
    if 300 <= start["status"] < 400 and b"location" in response_headers:
        return answer, response_headers[b"location"].decode()
    return answer, None


NAMED_ROUTES = (
    "/departments/{}",
    "/pathologists/{}",
    "/cases/by-accession/{}",
)


@pytest.fixture
def boss(service: ServiceHarness) -> Person:
    return manager(service)


@pytest.mark.parametrize("attempt", ATTEMPTS)
@pytest.mark.parametrize("route", NAMED_ROUTES)
def test_names_in_paths(service: ServiceHarness, boss: Person, route: str, attempt: str) -> None:
    answer = raw_request(service, "GET", route.format(attempt), boss.headers)
    assert 400 <= answer.status_code < 500, (route, attempt, answer.status_code)
    assert answer.content_type.startswith("application/json")
    assert "detail" in json.loads(answer.text)


@pytest.mark.parametrize(
    "attempt", ["../HMC", "..%5CHMC", "%2Fetc%2Fpasswd", "C:%5Cx", "HMC%2F..%2FLUMC", "%2e%2e"]
)
@pytest.mark.parametrize(
    "path",
    [
        "/cases?department_code={}",
        "/worklist/region?department_code={}",
        "/pathologists?department_code={}",
        "/pathologists?subspecialty={}%00",
    ],
)
def test_names_in_queries(service: ServiceHarness, boss: Person, path: str, attempt: str) -> None:
    answer = raw_request(service, "GET", path.format(attempt), boss.headers)
    assert answer.status_code == 422, (path, attempt)


def test_a_traversal_never_reaches_a_real_record(service: ServiceHarness, boss: Person) -> None:
    """``HMC/../LUMC`` must not be read as LUMC, nor ``x/../1`` as case 1."""
    case_id = make_case(service, "LUMC")
    for path in (
        "/departments/HMC%2F..%2FLUMC",
        "/departments/XX%2F..%2FLUMC",
        f"/cases/x%2F..%2F{case_id}",
        f"/cases/%2e%2e%2F{case_id}",
    ):
        answer = raw_request(service, "GET", path, boss.headers)
        assert 400 <= answer.status_code < 500, path
        assert "Leiden" not in answer.text, path


def _routes_with_path_parameters(service: ServiceHarness) -> list[tuple[str, str]]:
    schema = service.client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if "{" in path and method in ("get", "post")
    ]


def test_every_path_parameter_of_every_route(service: ServiceHarness, boss: Person) -> None:
    case_id = make_case(service, "HMC")
    valid = {
        "case_id": str(case_id),
        "slide_id": str(first_slide(service, case_id)),
        "annotation_id": "1",
        "job_id": "1",
        "code": "HMC",
        "accession_number": "HMC-T25-00001",
        "level": "0",
        "col": "0",
        "row": "0",
        "ext": "jpeg",
    }
    routes = _routes_with_path_parameters(service)
    assert len(routes) >= 15
    failures = []
    for method, route in routes:
        names = re.findall(r"{(\w+)}", route)
        for name in names:
            for attempt in ATTEMPTS:
                path = route
                for other in names:
                    path = path.replace(
                        "{" + other + "}", attempt if other == name else valid.get(other, "1")
                    )
                answer = raw_request(service, method, path, boss.headers)
                if not 400 <= answer.status_code < 500:
                    failures.append((method, route, name, attempt, answer.status_code))
    assert failures == []
