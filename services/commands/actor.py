"""Who a command acts as: the platform, with the person at the terminal named in the audit."""

from __future__ import annotations

import getpass

from worklist.actor import Actor
from worklist.enums import Role


def command_actor(command: str, *, purpose: str = "operations") -> Actor:
    """The system actor ``command`` (e.g. "coupe-assign") on behalf of the operating-system
    user who ran it (when that can be told), for ``purpose``."""
    try:
        user: str | None = getpass.getuser()[:64]
    except (KeyError, OSError):
        user = None
    return Actor(user_id=command, role=Role.SYSTEM, on_behalf_of=user, purpose_of_use=purpose)
