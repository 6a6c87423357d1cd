"""How a command says a user's mistake: one line on standard error, then exit."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text


def fail(message: str, *, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on one line of standard error and return the exit to raise.

    The message is text, never markup: names and periods a user typed may hold ``[...]``.
    """
    Console(stderr=True).print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(code=code)
