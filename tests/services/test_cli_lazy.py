"""The CLI builds only the command group it runs: `coupe tile` does not import the web stack."""

from __future__ import annotations

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


def test_coupe_tile_imports_neither_the_web_stack_nor_the_database() -> None:
    probe = (
        "import sys; sys.argv = ['coupe', 'tile', '--help']\n"
        "from services.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('fastapi', 'sqlalchemy', 'distributed') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "HEAVY=\n" in done.stdout, done.stdout[-400:]
