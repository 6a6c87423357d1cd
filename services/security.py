"""Passwords (argon2id, hashed in a bounded pool) and the CSRF token of a cookie session.

A new password goes through :func:`hash_new_password`: the policy (``worklist.passwords``)
first, then the hash, so no route can store a password the policy has not seen.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from worklist.passwords import PasswordPolicy

T = TypeVar("T")


@functools.cache
def _hasher() -> PasswordHasher:
    # argon2id with the library's current recommended parameters (RFC 9106 low-memory).
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; parameters inside the hash)."""
    return _hasher().hash(password)


def hash_new_password(
    policy: PasswordPolicy, password: str, *, user_inputs: Iterable[str | None]
) -> str:
    """The hash of a password being set, once ``policy`` accepts it (``WeakPasswordError``,
    a 422 naming why, otherwise). ``user_inputs``: the account's names."""
    policy.check(password, user_inputs=user_inputs)
    return hash_password(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_password_hash() -> str:
    """A hash no password matches, with the real parameters: an unknown user name is checked
    against it, so it costs the same time as a wrong password."""
    return hash_password(secrets.token_urlsafe(32))


class PasswordPool:
    """Runs sign-in work, argon2 above all, in at most ``workers`` threads, off the event loop.

    Each hash takes tens of milliseconds of CPU and memory; a burst of sign-ins queues here
    instead of taking every worker thread, core and turn at the GIL the other requests need.
    """

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sign-in")

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in one of the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; None (no such user) costs the same
        and never matches."""
        stored = dummy_password_hash() if password_hash is None else password_hash
        matched = await self.run(lambda: verify_password(stored, password))
        return matched and password_hash is not None

    def close(self) -> None:
        """Stop the threads (after the hashes under way)."""
        self._executor.shutdown(wait=True)


def csrf_token(secret_key: str, session_token: str) -> str:
    """The CSRF token of a cookie session: bound to the session token by the secret key, so
    only whoever could read the cookie that sign-in set can send it back."""
    return hmac.new(
        secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256
    ).hexdigest()
