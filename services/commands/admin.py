"""``coupe admin ...``: accounts on the command line (the first admin of a new installation).

The password is read from a hidden prompt (typed twice) or, with ``--password-stdin``, from
the first line of standard input; never from an argument, which would land in the shell's
history and the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from services.commands.actor import command_actor
from services.commands.db import database_url_from_environment
from services.commands.failure import fail


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        given = line.rstrip("\r\n")
        if not given:
            raise fail("no password on standard input")
        return given
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def register(app: typer.Typer) -> None:
    """Add ``coupe admin`` to ``app``."""
    admin_app = typer.Typer(help="Accounts: create users (the first admin).", no_args_is_help=True)

    @admin_app.command("create-user")
    def create_user_command(
        username: Annotated[
            str, typer.Option("--username", help="Sign-in name (unique, any case).")
        ],
        display_name: Annotated[str, typer.Option("--display-name", help="Name shown in the app.")],
        role: Annotated[
            str, typer.Option("--role", help="admin, lab_manager or pathologist.")
        ] = "admin",
        department: Annotated[
            str | None, typer.Option("--department", help="Department code.")
        ] = None,
        pathologist: Annotated[
            str | None,
            typer.Option("--pathologist", help="Pathologist code (a pathologist's own account)."),
        ] = None,
        password_stdin: Annotated[
            bool,
            typer.Option("--password-stdin", help="Read the password from stdin's first line."),
        ] = False,
    ) -> None:
        """Create an account; the password must pass the policy. Audited."""
        from sqlalchemy.exc import OperationalError

        from services.security import hash_new_password
        from services.settings import Settings
        from worklist.accounts import NewUser, create_user
        from worklist.db import make_engine
        from worklist.enums import Role
        from worklist.errors import WorklistError

        try:
            chosen = Role(role)
        except ValueError:
            raise fail(f"unknown role {role!r}; use admin, lab_manager or pathologist") from None
        password = _read_password(password_stdin)
        policy = Settings().password_policy  # honours COUPE_PASSWORD_MIN_LENGTH
        engine = make_engine(database_url_from_environment(), pool_size=1)
        try:
            password_hash = hash_new_password(
                policy, password, user_inputs=(username, display_name)
            )
            user_id = create_user(
                engine=engine,
                actor=command_actor("coupe-admin", purpose="administration"),
                user=NewUser(
                    username=username,
                    display_name=display_name,
                    password_hash=password_hash,
                    role=chosen,
                    department_code=department,
                    pathologist_code=pathologist,
                ),
            )
        except WorklistError as exc:
            raise fail(str(exc)) from None
        except OperationalError as exc:
            raise fail(f"cannot reach the database ({exc.orig}); run `coupe db upgrade`") from None
        finally:
            engine.dispose()
        typer.echo(f"created {chosen.value} {username} (id {user_id})")

    app.add_typer(admin_app, name="admin")
