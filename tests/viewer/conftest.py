"""The browser tests' harness: the real demo served by ``coupe serve``, driven by Chromium.

One demo for the whole session: ``coupe demo --no-serve`` prepares it once into a temporary
``COUPE_DATA_DIR`` (about a minute on two cores), then ``coupe serve --workers 1`` serves it on
a free loopback port. Tests share it, so each one works on cases (or accounts) of its own.

``COUPE_TEST_DEMO_TEMPLATE=<dir>`` (a folder ``coupe demo --no-serve`` prepared today) makes a
session copy that folder instead of preparing one: quicker while working on a page; the copy is
the session's own, so the template is never changed.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright from PyPI; no
``playwright install``. Without it the tests skip, saying why, except with ``CI=true``: CI
must run them, so there a missing browser fails them.

Fixtures: ``demo_server``, ``browser``, ``signed_in_page(username)``, ``api_as(username)``,
``assert_accessible(page, name)`` (axe-core, no serious or critical violation) and
``screenshot(page, name)`` (``test-artifacts/screenshots/<name>.png``, not committed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.viewer.own_case import own_case

__all__ = ["own_case"]  # a fixture, used by name

CHROMIUM = Path("/usr/bin/chromium")
DEMO_PASSWORD = "coupe-demo-password"
REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_SOURCE = REPO_ROOT / "viewer" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
_HERE = Path(__file__).resolve().parent
# The demo's preparation takes about a minute on two busy cores; allow a slow machine.
DEMO_PREPARE_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 90
# axe-core's impact levels that fail a page.
BLOCKING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/viewer drives a browser: mark it so (``-m "not browser"``)."""
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    """Skip (or, with CI=true, fail) when Debian's Chromium is not installed."""
    if CHROMIUM.exists():
        return
    reason = (
        f"{CHROMIUM} is absent: install Debian's chromium (`apt-get install chromium`, which "
        "`make check` does as root) to run the browser tests"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: browser tests must run, but {reason}")
    pytest.skip(reason)


def _coupe_command() -> list[str]:
    """The ``coupe`` entry point of this very environment (not whatever is on PATH)."""
    script = Path(sys.executable).with_name("coupe")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from services.cli import main; main()"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class DemoServer:
    """``coupe serve`` on the prepared demo: where it answers and where its data lives."""

    base_url: str
    data_dir: Path
    log_path: Path
    prepare_s: float
    """How long ``coupe demo --no-serve`` took (the lead wants to know if it passes 2 min)."""


def _prepare_demo(data_dir: Path, env: dict[str, str], log_path: Path) -> float:
    started = time.monotonic()
    with log_path.open("w") as log:
        try:
            done = subprocess.run(
                [*_coupe_command(), "demo", "--no-serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=DEMO_PREPARE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"`coupe demo --no-serve` took over {DEMO_PREPARE_TIMEOUT_S} s:\n{_tail(log_path)}"
            )
    if done.returncode != 0:
        pytest.fail(
            f"`coupe demo --no-serve` failed (exit {done.returncode}) in {data_dir}:\n"
            f"{_tail(log_path)}"
        )
    return time.monotonic() - started


def _wait_for_health(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"`coupe serve` exited with {server.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"`coupe serve` did not answer /health in {SERVER_START_TIMEOUT_S} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # uvicorn's graceful stop
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo, prepared once for the session and served on a free loopback port."""
    _require_chromium()
    root = tmp_path_factory.mktemp("browser-demo")
    data_dir = root / "data"
    env = {**os.environ, "COUPE_DATA_DIR": str(data_dir)}
    # The demo's own database in its own folder, whatever the caller's environment says.
    env.pop("COUPE_DATABASE_URL", None)
    template = os.environ.get("COUPE_TEST_DEMO_TEMPLATE")
    if template:
        started = time.monotonic()
        shutil.copytree(template, data_dir, symlinks=True)
        prepare_s = time.monotonic() - started
    else:
        prepare_s = _prepare_demo(data_dir, env, root / "demo.log")
        print(f"\ncoupe demo --no-serve took {prepare_s:.0f} s", file=sys.stderr)
    # Every test signs in from 127.0.0.1: the per-address throttle (20 failures in 15 minutes)
    # would let one test's wrong passwords lock out the next ones. The per-account throttle
    # stays as it is (test_sign_in.py checks it on an account of its own).
    env["COUPE_SIGN_IN_FAILURES_PER_ADDRESS"] = "100000"
    log_path = root / "serve.log"
    with coupe_served(env, log_path) as base_url:
        yield DemoServer(base_url, data_dir, log_path, prepare_s)


@contextmanager
def coupe_served(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``coupe serve`` (one process, a free loopback port) on ``env``, logging to ``log_path``;
    yields its base URL once ``/health`` answers, and stops it afterwards."""
    port = _free_port()
    log: IO[bytes] = log_path.open("wb")
    server = subprocess.Popen(
        [*_coupe_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, server, log_path)
        yield base_url
    finally:
        _stop(server)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright, for the whole session."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Root (CI containers) cannot use Chromium's sandbox.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in_context(
    browser: Any, base_url: str, username: str, password: str = DEMO_PASSWORD
) -> Any:
    """A new browser context holding ``username``'s session cookies (signed in through the API,
    as the sign-in page does; the page itself is tested in test_sign_in.py)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
    answer = context.request.post("/auth/login", data={"username": username, "password": password})
    if answer.status != 200:
        context.close()
        pytest.fail(f"could not sign in as {username!r}: {answer.status} {answer.text()}")
    return context


DESK_ROLES = frozenset({"lab_manager", "admin"})
"""Roles whose landing page (``/``) sends them on to the lab manager's desk."""


@pytest.fixture
def signed_in_page(browser: Any, demo_server: DemoServer) -> Iterator[Callable[..., Any]]:
    """``signed_in_page("alrijne")``: a page in a new context signed in as that user, on ``/``
    (lab managers and admins: on ``/desk/queue``, where ``/`` sends them; ``password=`` for
    an account made with ``new_account``).

    Uncaught script errors of the page are printed at the end (shown when a test fails).
    """
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(username: str, password: str = DEMO_PASSWORD) -> Any:
        context = sign_in_context(browser, demo_server.base_url, username, password)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{username}: {error}"))
        page.goto("/")
        role = context.request.get("/auth/me").json().get("role")
        if role in DESK_ROLES:
            # Their landing page sends them on to the desk; a test's own goto issued before
            # that redirect would be cut short by it.
            page.wait_for_url("**/desk/queue")
        return page

    yield open_page
    for context in contexts:
        context.close()
    if errors:
        print("uncaught page errors:\n" + "\n".join(errors), file=sys.stderr)


@dataclass
class ApiClient:
    """A small JSON client of the demo server, signed in as one user (bearer token)."""

    base_url: str
    token: str
    user: dict[str, Any] = field(default_factory=dict)

    def request(self, method: str, path: str, json_body: Any = None) -> tuple[int, Any]:
        """``(status, parsed JSON or None)``; error answers are returned, not raised."""
        data = None if json_body is None else json.dumps(json_body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, _parse(answer.read())
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code, _parse(refused.read())

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, json: Any = None) -> tuple[int, Any]:
        return self.request("POST", path, {} if json is None else json)

    def put(self, path: str, json: Any = None) -> tuple[int, Any]:
        return self.request("PUT", path, {} if json is None else json)

    def patch(self, path: str, json: Any = None) -> tuple[int, Any]:
        return self.request("PATCH", path, {} if json is None else json)

    def delete(self, path: str) -> tuple[int, Any]:
        return self.request("DELETE", path)

    def all_items(self, path: str) -> list[Any]:
        """Every item of a list, following ``next`` page by page."""
        items: list[Any] = []
        separator = "&" if "?" in path else "?"
        cursor: str | None = None
        while True:
            page_path = path if cursor is None else f"{path}{separator}cursor={cursor}"
            status, page = self.get(page_path)
            assert status == 200, (page_path, status, page)
            items.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                return items


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@pytest.fixture
def api_as(demo_server: DemoServer) -> Callable[[str], ApiClient]:
    """``api_as("admin")``: a JSON client of the demo server signed in as that user."""

    def sign_in(username: str, password: str = DEMO_PASSWORD) -> ApiClient:
        anonymous = ApiClient(demo_server.base_url, token="")
        body = {"username": username, "password": password}
        status, answer = anonymous.request("POST", "/auth/login", body)
        assert status == 200, f"could not sign in as {username!r}: {status} {answer}"
        return ApiClient(demo_server.base_url, token=answer["access_token"], user=answer["user"])

    return sign_in


TEST_ACCOUNT_PASSWORD = "Browser-test account, not for people 7"


@pytest.fixture
def new_account(api_as: Callable[..., ApiClient]) -> Callable[..., dict[str, Any]]:
    """``new_account("lab_manager")``, ``new_account("pathologist", pathologist_code="GHZ-02")``:
    a fresh account made by ``admin``, for a test that changes an account's state (its sessions,
    a throttle, a claim) without touching the demo accounts other tests use. A pathologist
    account without ``pathologist_code`` is linked to an active pathologist who has no account
    yet. Returns the account (``id``, ``username``, ...) with its ``password``."""
    admin = api_as("admin")

    def make(role: str, **fields: Any) -> dict[str, Any]:
        if role == "pathologist" and "pathologist_code" not in fields:
            fields["pathologist_code"] = pathologist_without_account(admin)["code"]
        username = f"test-{role.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        body = {
            "username": username,
            "display_name": f"Test {role.replace('_', ' ')} {username[-8:]}",
            "password": TEST_ACCOUNT_PASSWORD,
            "role": role,
            **fields,
        }
        status, account = admin.post("/users", body)
        assert status == 201, f"could not create {username}: {status} {account}"
        return {**account, "password": TEST_ACCOUNT_PASSWORD}

    return make


def pathologist_without_account(
    admin: ApiClient, *, outside_department: str | None = None, department: str | None = None
) -> dict[str, Any]:
    """An active pathologist (``GET /pathologists`` item) no account is linked to yet,
    optionally of another department than ``outside_department``, or of ``department``."""
    taken = {user["pathologist_code"] for user in admin.all_items("/users")}
    for pathologist in admin.all_items("/pathologists"):
        if (
            pathologist["active"]
            and pathologist["code"] not in taken
            and pathologist["department_code"] != outside_department
            and department in (None, pathologist["department_code"])
        ):
            return dict(pathologist)
    pytest.fail("every active pathologist of the demo has an account already")


@pytest.fixture
def anonymous_page(browser: Any, demo_server: DemoServer) -> Iterator[Callable[[], Any]]:
    """``anonymous_page()``: a page in a new context with no session (not navigated yet)."""
    contexts: list[Any] = []

    def open_page() -> Any:
        context = browser.new_context(
            base_url=demo_server.base_url, viewport={"width": 1400, "height": 900}
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def save_screenshot(page: Any, name: str) -> Path:
    """Save the whole page as ``test-artifacts/screenshots/<name>.png``; the path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, "worklist")`` saves test-artifacts/screenshots/worklist.png."""
    return save_screenshot


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE_SOURCE.exists():
        pytest.fail(f"{AXE_SOURCE} is missing: run `make setup` (npm ci in viewer/)")
    # Evaluated through the DevTools protocol, which the page's script-src does not govern:
    # the page under test keeps its real Content-Security-Policy.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await window.axe.run(document)")
    return [
        violation
        for violation in result["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per violation and the elements it was found on."""
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
        lines.append(
            f"{violation['impact']}: {violation['id']} ({violation['help']}) on "
            + "; ".join(targets)
        )
    return "\n".join(lines)


@pytest.fixture
def assert_accessible() -> Callable[[Any, str], None]:
    """``assert_accessible(page, "worklist")``: a screenshot, then no serious or critical
    axe-core violation on the page."""

    def check(page: Any, name: str) -> None:
        save_screenshot(page, name)
        violations = axe_violations(page)
        assert not violations, f"axe-core on {name}:\n{describe_violations(violations)}"

    return check
