"""The CLI builds only the command group it runs: `coupe tile` does not import the web stack."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from services.cli import build_cli
from services.commands import COMMAND_MODULES, register_all


def _top_level_names(app: typer.Typer) -> set[str]:
    group = typer.main.get_group(app)
    return set(group.commands)


def test_every_top_level_command_is_mapped_to_the_module_that_registers_it() -> None:
    everything = _top_level_names(build_cli())
    assert everything == set(COMMAND_MODULES)
    for name in everything:
        alone = typer.Typer()
        register_all(alone, only=name)
        assert name in _top_level_names(alone), f"{name} is not registered by its module"


def test_an_unknown_or_missing_command_builds_every_group() -> None:
    # `coupe --help` and a misspelt command both need the full list (for "did you mean").
    assert _top_level_names(build_cli("tiel")) == set(COMMAND_MODULES)
    assert _top_level_names(build_cli(None)) == set(COMMAND_MODULES)


def _run_probe(probe: str, environment: dict[str, str] | None = None) -> str:
    """The standard output of ``probe`` run as a Python program of its own."""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=environment,
    )
    return done.stdout


def test_coupe_tile_imports_neither_the_web_stack_nor_the_database() -> None:
    probe = (
        "import sys; sys.argv = ['coupe', 'tile', '--help']\n"
        "from services.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('fastapi', 'sqlalchemy', 'distributed') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    seen = _run_probe(probe)
    assert "HEAVY=\n" in seen, seen[-400:]


def _commands_probe(environment: dict[str, str]) -> str:
    """What a ``coupe`` command sees: OpenBLAS's thread setting and the frozen objects."""
    probe = (
        "import gc, os, sys; sys.argv = ['coupe', 'tile', '--help']\n"
        "import services.commands.slides as slides\n"
        "def seen(*args, **kwargs):\n"
        "    print('BLAS=' + os.environ.get('OPENBLAS_NUM_THREADS', ''))\n"
        "    print('FROZEN=' + str(gc.get_freeze_count() > 10_000))\n"
        "    raise SystemExit(0)\n"
        "slides.tile = seen\n"
        "sys.argv = ['coupe', 'tile', 'a.svs', 'out']\n"
        "from services.cli import main\n"
        "main()\n"
    )
    return _run_probe(probe, environment)


def test_commands_run_with_one_blas_thread_and_the_imports_frozen() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    seen = _commands_probe(environment)
    assert "BLAS=1\n" in seen and "FROZEN=True\n" in seen, seen
    # An operator's own setting is kept.
    assert "BLAS=4\n" in _commands_probe({**environment, "OPENBLAS_NUM_THREADS": "4"})


def test_coupe_version_builds_no_command_group() -> None:
    probe = (
        "import sys; sys.argv = ['coupe', '--version']\n"
        "from services.cli import main\n"
        "main()\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('services.commands.'))\n"
        "print('LOADED=' + ','.join(loaded))\n"
    )
    seen = _run_probe(probe)
    assert seen.startswith("coupe "), seen
    assert "LOADED=\n" in seen, seen[-400:]
