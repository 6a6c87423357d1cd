"""The compose deployment (``docker/``) as far as it can be checked without a Docker engine.

The compose file goes through a real parser (``docker-compose config``, see ``conftest``); every
command a container starts with is run here with ``--help`` from this environment's ``coupe`` and
``dask``; the Dockerfile's stages and COPY sources are read; the Caddyfile goes through Caddy's own
parser when Caddy is installed; ``.env.example`` is held against ``services.settings.Settings``.
No image is built and no container started here.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.commands import COMMAND_MODULES
from services.settings import Settings
from tests.docker.conftest import (
    CADDY,
    COUPE_IMAGE_SERVICES,
    DOCKER_DIR,
    REPO_ROOT,
    Deployment,
    ParsedCompose,
    Stage,
    copy_deployment,
    modern_compose,
    parse_dockerfile,
    run_compose_config,
    venv_script,
)

API_REPLICAS = ("api-1", "api-2")
DASK_WORKERS = ("dask-worker-1", "dask-worker-2")
SERVE_COMMAND = ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"]
HELP_TIMEOUT_S = 120
SERVER_START_TIMEOUT_S = 90
_SETTING_NAME = re.compile(r"\bCOUPE_[A-Z0-9_]+\b")
_SHOWN_DEFAULT = re.compile(r"^# (COUPE_[A-Z0-9_]+)=(.+)$")


def _dockerfile() -> list[Stage]:
    return parse_dockerfile(DOCKER_DIR / "Dockerfile")


def _image_argv(service: dict[str, Any]) -> list[str]:
    """What a container of Coupe's image runs: Docker's rules for ENTRYPOINT and CMD."""
    runtime = _dockerfile()[-1]
    entrypoint, cmd = runtime.last("ENTRYPOINT"), runtime.last("CMD")
    assert entrypoint is not None and cmd is not None
    if "entrypoint" in service:
        # An entrypoint set in compose drops the image's CMD.
        return [*service["entrypoint"], *service.get("command", [])]
    return [*entrypoint.words(), *service.get("command", cmd.words())]


def _volumes(service: dict[str, Any]) -> set[tuple[str, str]]:
    """(source, target) of each volume, from the parser's short syntax ``src:dst[:mode]``."""
    pairs = set()
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        pairs.add((source, target))
    return pairs


def _settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a container of ``service`` starts with (its environment, nothing else)."""
    for name in list(os.environ):
        if name.startswith("COUPE_"):
            monkeypatch.delenv(name)
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, "" if value is None else str(value))
    return Settings()


def _run_help(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=HELP_TIMEOUT_S, check=False, cwd=REPO_ROOT
    )


# --------------------------------------------------------------------- the compose file


def test_every_part_of_the_deployment_is_a_service(compose_config: ParsedCompose) -> None:
    assert "WARNING" not in compose_config.stderr, compose_config.stderr
    expected = {"postgres", "redis", "proxy", *COUPE_IMAGE_SERVICES}
    assert expected <= set(compose_config.config["services"])
    assert compose_config.service("postgres")["image"].startswith("postgres:15")
    assert compose_config.service("proxy")["image"].startswith("caddy:2")
    images = {compose_config.service(name)["image"] for name in COUPE_IMAGE_SERVICES}
    assert len(images) == 1, f"Coupe's services run different images: {images}"


def test_two_api_replicas_each_one_serve_process(compose_config: ParsedCompose) -> None:
    for name in API_REPLICAS:
        assert _image_argv(compose_config.service(name)) == ["coupe", *SERVE_COMMAND]
    assert "ports" not in compose_config.service("api-1"), "replicas are reached via the proxy"


def test_replicas_are_configured_for_the_shared_services(
    compose_config: ParsedCompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in API_REPLICAS:
        settings = _settings_of(compose_config.service(name), monkeypatch)
        database = urlsplit(settings.resolved_database_url)
        assert database.scheme == "postgresql+psycopg"
        assert database.hostname == "postgres"
        assert settings.dask_scheduler == "tcp://dask-scheduler:8786"
        assert settings.tile_cache_url == "redis://redis:6379/0"
        assert settings.behind_tls is True
        assert settings.data_dir == Path("/data")
        assert settings.secret_key is not None
        # The public name, and the names the proxy's health checks, Prometheus and the image's
        # own health check use.
        assert {"localhost", "api-1", "api-2", "127.0.0.1"} <= set(settings.trusted_hosts)


def test_public_host_becomes_a_trusted_host(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = deployment({"PUBLIC_HOST": "pathology.example.org"})
    assert parsed.returncode == 0, parsed.stderr
    settings = _settings_of(parsed.service("api-2"), monkeypatch)
    assert "pathology.example.org" in settings.trusted_hosts
    assert parsed.service("proxy")["environment"]["PUBLIC_HOST"] == "pathology.example.org"


def test_exactly_one_replica_runs_the_background_workers(
    compose_config: ParsedCompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = [
        name
        for name in API_REPLICAS
        if _settings_of(compose_config.service(name), monkeypatch).run_background_workers
    ]
    assert running == ["api-1"]


def test_migrations_run_once_before_the_api(compose_config: ParsedCompose) -> None:
    migrate = compose_config.service("migrate")
    assert _image_argv(migrate) == ["coupe", "db", "upgrade"]
    # A one-shot: restarted after it exits 0, it would run for ever.
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in API_REPLICAS:
        depends_on = compose_config.service(name)["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
        assert depends_on["postgres"] == {"condition": "service_healthy"}


def test_services_have_health_checks(compose_config: ParsedCompose) -> None:
    postgres = compose_config.service("postgres")["healthcheck"]["test"]
    assert postgres[:2] == ["CMD", "pg_isready"]
    assert compose_config.service("redis")["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in ("dask-scheduler", *DASK_WORKERS):
        test = compose_config.service(name)["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"] and "/health" in test[3]
        compile(test[3], f"{name} health check", "exec")
    # The replicas keep the image's HEALTHCHECK (GET /health); the one-shot has none.
    for name in API_REPLICAS:
        assert "healthcheck" not in compose_config.service(name)
    assert compose_config.service("migrate")["healthcheck"]["test"] == ["NONE"]


def test_api_and_workers_share_the_data_at_the_same_paths(compose_config: ParsedCompose) -> None:
    sharing = (*API_REPLICAS, *DASK_WORKERS)
    mounts = {name: _volumes(compose_config.service(name)) for name in sharing}
    first = mounts["api-1"]
    assert all(volumes == first for volumes in mounts.values()), mounts
    targets = {target for _, target in first}
    assert {"/data", "/data/pyramids", "/data/import"} <= targets
    named = set(compose_config.config["volumes"])
    assert {source for source, _ in first} <= named
    assert ("postgres", "/var/lib/postgresql/data") in _volumes(compose_config.service("postgres"))


def test_scanner_share_and_pyramid_store_can_be_host_folders(deployment: Deployment) -> None:
    parsed = deployment({"SCANNER_DIR": "/mnt/scanners", "PYRAMID_STORE": "/srv/pyramids"})
    assert parsed.returncode == 0, parsed.stderr
    for name in (*API_REPLICAS, *DASK_WORKERS):
        volumes = _volumes(parsed.service(name))
        assert ("/mnt/scanners", "/data/import") in volumes
        assert ("/srv/pyramids", "/data/pyramids") in volumes


def test_the_secrets_must_be_set(deployment: Deployment) -> None:
    parsed = deployment(secrets=False)
    assert parsed.returncode != 0
    assert "POSTGRES_PASSWORD" in parsed.stderr or "COUPE_SECRET_KEY" in parsed.stderr


def test_the_proxy_alone_is_published(compose_config: ParsedCompose) -> None:
    published = {
        name for name, service in compose_config.config["services"].items() if "ports" in service
    }
    assert published == {"proxy"}
    # uvicorn takes X-Forwarded-For from the proxy's fixed address only.
    proxy_ip = compose_config.service("proxy")["networks"]["coupe"]["ipv4_address"]
    for name in API_REPLICAS:
        assert compose_config.service(name)["environment"]["FORWARDED_ALLOW_IPS"] == proxy_ip


def test_modern_compose_reads_the_same_deployment(
    compose_config: ParsedCompose, tmp_path: Path
) -> None:
    """Docker Compose v2, which operators run, resolves the file as 1.29.2 does."""
    compose = modern_compose()
    if compose is None:
        pytest.skip("no Docker Compose v2 here (`docker compose`, or COUPE_TEST_COMPOSE_V2)")
    modern = run_compose_config(copy_deployment(tmp_path / "modern"), compose)
    assert modern.returncode == 0, modern.stderr
    assert set(modern.config["services"]) == set(compose_config.config["services"])
    for name in (*API_REPLICAS, *DASK_WORKERS):
        service, old = modern.service(name), compose_config.service(name)
        mounts = {(volume["source"], volume["target"]) for volume in service["volumes"]}
        assert mounts == _volumes(old), name
        assert service.get("environment") == old.get("environment"), name
        assert _image_argv(service) == _image_argv(old), name
    for name in API_REPLICAS:
        condition = modern.service(name)["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    assert modern.service("migrate")["restart"] == "no"
    refused = run_compose_config(copy_deployment(tmp_path / "no-secrets", secrets=False), compose)
    assert refused.returncode != 0


# --------------------------------------------------------------------- commands in the images


def _dask_options(subcommand: str) -> set[str]:
    """The options ``dask SUBCOMMAND`` declares (its click command, via dask's entry points)."""
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="dask_cli") if e.name == subcommand]
    command = entry.load()
    return {option for param in command.params for option in param.opts}


@pytest.mark.slow
def test_every_container_command_exists(compose_config: ParsedCompose) -> None:
    """Each Coupe container's command runs here with ``--help`` appended (its options parse)."""
    runtime = _dockerfile()[-1]
    entrypoint, cmd = runtime.last("ENTRYPOINT"), runtime.last("CMD")
    assert entrypoint is not None and cmd is not None
    commands = {"image default": [*entrypoint.words(), *cmd.words()]}
    commands |= {name: _image_argv(compose_config.service(name)) for name in COUPE_IMAGE_SERVICES}
    for name, argv in commands.items():
        program, *arguments = argv
        assert program in ("coupe", "dask"), f"{name}: {argv}"
        if program == "coupe":
            assert arguments[0] in COMMAND_MODULES, f"{name}: no `coupe {arguments[0]}`"
        else:
            # `dask worker` takes unknown options as preload arguments: check them by name.
            unknown = {
                word.split("=")[0] for word in arguments[1:] if word.startswith("--")
            } - _dask_options(arguments[0])
            assert not unknown, f"{name}: `dask {arguments[0]}` has no {sorted(unknown)}"
        done = _run_help([str(venv_script(program)), *arguments, "--help"])
        assert done.returncode == 0, f"{name}: {argv} --help failed:\n{done.stdout}{done.stderr}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_health_checks_pass_on_a_replica_set_up_like_compose(
    compose_config: ParsedCompose, tmp_path: Path
) -> None:
    """A replica with api-2's settings (HTTPS-only, trusted hosts) answers the image's health
    check and the proxy's, sent as Caddy sends it (``Host: api-2:8000``), on plain HTTP.

    The database is SQLite here and the scheduler and cache are left out: only the host check
    and the HTTPS settings are under test.
    """
    environment = {
        name: str(value)
        for name, value in compose_config.service("api-2")["environment"].items()
        if name not in ("COUPE_DATABASE_URL", "COUPE_DASK_SCHEDULER", "COUPE_TILE_CACHE_URL")
    }
    environment["COUPE_DATA_DIR"] = str(tmp_path / "data")
    port = _free_port()
    argv = _image_argv(compose_config.service("api-2"))
    argv[argv.index("--host") + 1], argv[argv.index("--port") + 1] = "127.0.0.1", str(port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUPE_")} | environment
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(venv_script("coupe")), *argv[1:]], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if _status(f"http://127.0.0.1:{port}/health", "127.0.0.1") == 200:
                    break
            except OSError:
                pass  # not listening yet
            time.sleep(0.3)
        else:
            log_text = log_path.read_text()
            pytest.fail(f"`coupe serve` did not answer /health (Host: 127.0.0.1): {log_text}")
        healthcheck = _dockerfile()[-1].last("HEALTHCHECK")
        assert healthcheck is not None
        code = json.loads(healthcheck.arguments.partition(" ")[2])[2]
        check = subprocess.run(
            [sys.executable, "-c", code.replace(":8000/", f":{port}/")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, f"the image's health check failed:\n{check.stderr}"
        assert _status(f"http://127.0.0.1:{port}/health", "api-2:8000") == 200
        assert _status(f"http://127.0.0.1:{port}/health", "elsewhere.example") == 400
    finally:
        server.terminate()
        server.wait(timeout=30)


# --------------------------------------------------------------------- the Dockerfile


def _ignored_by_dockerignore(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(c, p) for c in candidates for p in patterns if not p.startswith("!"))


def _runs(stage: Stage) -> str:
    return " ".join(i.arguments for i in stage.instructions if i.keyword == "RUN")


def test_dockerfile_stages() -> None:
    stages = _dockerfile()
    assert [stage.image.split(":")[0] for stage in stages] == ["node", "python", "python"]
    viewer, build, runtime = stages
    assert viewer.image.startswith("node:20")
    assert build.image.startswith("python:3.11-slim") and runtime.image.startswith(
        "python:3.11-slim"
    )
    assert "npm ci" in _runs(viewer)
    assert re.search(r"pip install \.(\s|$)", _runs(build)), "a non-editable install"
    assert "-e" not in _runs(build).split()


def test_dockerfile_copy_sources_exist() -> None:
    stages = _dockerfile()
    names = [stage.name for stage in stages]
    for index, stage in enumerate(stages):
        for instruction in stage.instructions:
            if instruction.keyword != "COPY":
                continue
            *sources, _ = instruction.words()
            if "from" in instruction.flags:
                assert instruction.flags["from"] in names[:index], instruction
                continue
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"
                assert not _ignored_by_dockerignore(source), f"COPY {source}: in .dockerignore"
    assert _ignored_by_dockerignore("docker/.env"), "the operator's secrets reach the build"


def test_runtime_stage_runs_unprivileged_with_a_health_check() -> None:
    runtime = _dockerfile()[-1]
    user = runtime.last("USER")
    assert user is not None and user.arguments not in ("root", "0", "0:0")
    healthcheck = runtime.last("HEALTHCHECK")
    assert healthcheck is not None
    kind, _, exec_form = healthcheck.arguments.partition(" ")
    test = json.loads(exec_form)
    assert kind == "CMD" and test[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/health" in test[2]
    compile(test[2], "the image's health check", "exec")
    entrypoint, cmd = runtime.last("ENTRYPOINT"), runtime.last("CMD")
    assert entrypoint is not None and entrypoint.words() == ["coupe"]
    assert cmd is not None and cmd.words() == SERVE_COMMAND
    env = runtime.last("ENV")
    assert env is not None and "COUPE_DATA_DIR=/data" in env.arguments


# --------------------------------------------------------------------- the Caddyfile


def _caddy_adapt() -> dict[str, Any]:
    if not CADDY.exists():
        reason = f"{CADDY} is absent: Caddy's own parser cannot check docker/Caddyfile"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: the Caddyfile test must run, but {reason}")
        pytest.skip(reason)
    done = subprocess.run(
        [str(CADDY), "adapt", "--config", str(DOCKER_DIR / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT_S,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "PUBLIC_HOST": "pathology.example.org"},
    )
    assert done.returncode == 0, f"caddy adapt refused docker/Caddyfile:\n{done.stderr}"
    adapted: dict[str, Any] = json.loads(done.stdout)
    return adapted


def _handlers(routes: list[dict[str, Any]]) -> list[tuple[list[Any], dict[str, Any]]]:
    """Every handler under ``routes``, in order, with the matchers on the way to it."""
    found = []
    for route in routes:
        for handler in route.get("handle", []):
            if handler["handler"] == "subroute":
                for matchers, inner in _handlers(handler["routes"]):
                    found.append((route.get("match", []) + matchers, inner))
            else:
                found.append((route.get("match", []), handler))
    return found


def test_caddyfile_terminates_tls_and_balances_the_replicas() -> None:
    config = _caddy_adapt()
    (server,) = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    handlers = _handlers(server["routes"])
    assert all({"host": ["pathology.example.org"]} in matchers for matchers, _ in handlers)
    kinds = [handler["handler"] for _, handler in handlers]
    # /metrics answers 404 before anything reaches a replica.
    metrics_at, proxy_at = kinds.index("static_response"), kinds.index("reverse_proxy")
    assert metrics_at < proxy_at
    metrics, proxy = handlers[metrics_at], handlers[proxy_at]
    assert {"path": ["/metrics", "/metrics/*"]} in metrics[0] and metrics[1]["status_code"] == 404
    upstreams = {upstream["dial"] for upstream in proxy[1]["upstreams"]}
    assert upstreams == {f"{name}:8000" for name in API_REPLICAS}
    assert proxy[1]["health_checks"]["active"]["uri"] == "/health"
    (policy,) = config["apps"]["tls"]["automation"]["policies"]
    assert policy["subjects"] == ["pathology.example.org"]
    assert policy["issuers"] == [{"module": "internal"}]


# --------------------------------------------------------------------- .env.example


def _example() -> str:
    return (DOCKER_DIR / ".env.example").read_text(encoding="utf-8")


def test_env_example_names_every_setting_and_only_settings() -> None:
    named = set(_SETTING_NAME.findall(_example()))
    fields = {f"COUPE_{name.upper()}" for name in Settings.model_fields}
    assert named - fields == set(), "not settings (services/settings.py)"
    assert fields - named == set(), "settings docker/.env.example does not mention"


def test_env_example_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("COUPE_"):
            monkeypatch.delenv(name)
    defaults = Settings()
    for line in _example().splitlines():
        match = _SHOWN_DEFAULT.match(line)
        if match is None:
            continue
        name, value = match.groups()
        monkeypatch.setenv(name, value)
        field = name.removeprefix("COUPE_").lower()
        assert getattr(Settings(), field) == getattr(defaults, field), line
        monkeypatch.delenv(name)


def test_env_example_sets_nothing_compose_overrides() -> None:
    """A setting both in ``.env`` and in a service's ``environment`` would be silently lost."""
    set_in_example = {
        line.split("=", 1)[0]
        for line in _example().splitlines()
        if line.startswith("COUPE_") and "=" in line
    }
    raw = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text(encoding="utf-8"))
    for name, service in raw["services"].items():
        overridden = set_in_example & set(service.get("environment", {}))
        # compose takes COUPE_SECRET_KEY from .env itself, to refuse to start without it.
        assert overridden <= {"COUPE_SECRET_KEY"}, f"{name} overrides {sorted(overridden)}"
