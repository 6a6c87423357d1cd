"""The deployment's harness: docker/compose.yaml through Debian's docker-compose, read back.

There is no Docker engine here, so nothing is built or started; ``docker-compose config`` (1.29.2,
``/usr/bin/docker-compose``, which ``make test`` installs as root) parses the file, checks it
against the compose schema, fills in the variables and prints the resolved configuration, which
the tests then read. The parser needs ``docker/.env`` to exist (``env_file``), so it runs on a
temporary copy of ``docker/`` whose ``.env`` is made from ``.env.example`` with the secrets filled
in. Without the parser the tests skip, saying why, except with ``CI=true``: there they fail.

Where a modern Docker Compose (v2, Go) is at hand, the same copy goes through it too: the
``docker compose`` plugin of a machine with Docker, or the binary that
``COUPE_TEST_COMPOSE_V2`` names (``modern_compose``; those tests skip without one, CI too).

Fixtures: ``deployment`` (a function that writes such a copy, with extra ``.env`` lines, and
parses it) and ``compose_config`` (the parsed configuration of the example as shipped).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE = Path("/usr/bin/docker-compose")
CADDY = Path("/usr/bin/caddy")
PARSER_TIMEOUT_S = 120
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
    "COUPE_SECRET_KEY": "fedcba9876543210fedcba9876543210",
}
"""What the operator generates (``openssl rand -hex 32``); stand-ins for the tests."""
COUPE_IMAGE_SERVICES = (
    "migrate",
    "api-1",
    "api-2",
    "dask-scheduler",
    "dask-worker-1",
    "dask-worker-2",
)
"""The services that run Coupe's own image."""


def venv_script(name: str) -> Path:
    """A console script of this very environment (``.venv/bin/coupe``, ``.venv/bin/dask``)."""
    return Path(sys.executable).with_name(name)


def modern_compose() -> list[str] | None:
    """The command of a Docker Compose v2 here, if any: ``COUPE_TEST_COMPOSE_V2`` or the plugin."""
    named = os.environ.get("COUPE_TEST_COMPOSE_V2")
    if named:
        return [named]
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, timeout=30, check=False
    )
    return [docker, "compose"] if probe.returncode == 0 else None


def copy_deployment(
    into: Path, extra: dict[str, str] | None = None, *, secrets: bool = True
) -> Path:
    """A copy of ``docker/`` in ``into`` whose ``.env`` is the example plus ``extra``."""
    copy = into / "docker"
    shutil.copytree(DOCKER_DIR, copy, ignore=shutil.ignore_patterns(".env"))
    (copy / ".env").write_text(env_from_example(extra or {}, secrets=secrets))
    return copy


def _require_compose() -> None:
    """Skip (or, with CI=true, fail) when Debian's docker-compose is not installed."""
    if COMPOSE.exists():
        return
    reason = (
        f"{COMPOSE} is absent: install Debian's docker-compose (`apt-get install docker-compose`, "
        "which `make check` does as root) to validate docker/compose.yaml"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: the compose test must run, but {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class ParsedCompose:
    """What ``docker-compose config`` answered for one copy of ``docker/``."""

    returncode: int
    stdout: str
    stderr: str
    config: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> dict[str, Any]:
        """One service's resolved configuration."""
        services: dict[str, Any] = self.config["services"]
        assert name in services, f"no service {name!r} in docker/compose.yaml"
        return dict(services[name])


def env_from_example(extra: dict[str, str], *, secrets: bool = True) -> str:
    """``.env.example`` as an operator fills it in: the secrets set, ``extra`` lines added."""
    text = (DOCKER_DIR / ".env.example").read_text(encoding="utf-8")
    values = {**(TEST_SECRETS if secrets else {}), **extra}
    lines = []
    for line in text.splitlines():
        name = line.split("=", 1)[0]
        if not line.startswith("#") and "=" in line and name in values:
            line = f"{name}={values.pop(name)}"
        lines.append(line)
    lines.extend(f"{name}={value}" for name, value in values.items())
    return "\n".join(lines) + "\n"


def run_compose_config(directory: Path, compose: list[str] | None = None) -> ParsedCompose:
    """``docker-compose -f compose.yaml --env-file .env config`` in ``directory`` (or with
    ``compose``, another parser's command).

    The parser's environment is bare: a variable in the shell would override ``.env``.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(directory)}
    command = [*(compose or [str(COMPOSE)]), "-f", "compose.yaml", "--env-file", ".env", "config"]
    done = subprocess.run(
        command,
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=PARSER_TIMEOUT_S,
        check=False,
    )
    config = yaml.safe_load(done.stdout) if done.returncode == 0 else {}
    return ParsedCompose(done.returncode, done.stdout, done.stderr, config or {})


Deployment = Callable[..., ParsedCompose]


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    """Parse a copy of ``docker/`` whose ``.env`` is the example plus ``extra`` settings."""
    _require_compose()

    def parse(extra: dict[str, str] | None = None, *, secrets: bool = True) -> ParsedCompose:
        into = tmp_path / f"deployment-{len(list(tmp_path.iterdir()))}"
        return run_compose_config(copy_deployment(into, extra, secrets=secrets))

    return parse


@pytest.fixture(scope="session")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> ParsedCompose:
    """The example deployment (secrets filled in, nothing else changed), parsed once."""
    _require_compose()
    parsed = run_compose_config(copy_deployment(tmp_path_factory.mktemp("deployment")))
    assert parsed.returncode == 0, f"docker-compose config refused the example:\n{parsed.stderr}"
    return parsed


@dataclass
class Instruction:
    """One Dockerfile instruction: its keyword, its flags (``--from=build``) and arguments."""

    keyword: str
    flags: dict[str, str]
    arguments: str

    def words(self) -> list[str]:
        """The arguments in exec form (a JSON list) or shell words."""
        if self.arguments.startswith("["):
            return list(json.loads(self.arguments))
        return shlex.split(self.arguments)


@dataclass
class Stage:
    """One ``FROM`` stage of the Dockerfile."""

    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def last(self, keyword: str) -> Instruction | None:
        """The stage's last ``keyword`` instruction (the one that counts), if any."""
        found = [i for i in self.instructions if i.keyword == keyword]
        return found[-1] if found else None


def parse_dockerfile(path: Path) -> list[Stage]:
    """The Dockerfile's stages: continuation lines joined, comments and directives skipped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        instruction = Instruction(keyword.upper(), flags, rest)
        if instruction.keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        else:
            assert stages, f"{path}: {keyword} before any FROM"
            stages[-1].instructions.append(instruction)
    return stages
