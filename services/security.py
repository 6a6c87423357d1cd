"""Passwords (argon2id) and signed, expiring session tokens."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


@functools.cache
def _hasher() -> PasswordHasher:
    # argon2id with the library's current recommended parameters (RFC 9106 low-memory).
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; parameters inside the hash)."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class InvalidTokenError(Exception):
    """A session token is malformed, forged or expired."""


@dataclass(frozen=True)
class TokenSigner:
    """Issues and checks session tokens: the user id, signed with the secret key."""

    secret_key: str
    ttl_s: int

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt="coupe-session")

    def issue(self, user_id: int) -> str:
        """A token for ``user_id``, valid for ``ttl_s``."""
        return self._serializer().dumps({"uid": user_id})

    def user_id(self, token: str) -> int:
        """The user id inside a valid token; InvalidTokenError otherwise."""
        try:
            payload = self._serializer().loads(token, max_age=self.ttl_s)
        except SignatureExpired as exc:
            raise InvalidTokenError("session expired; sign in again") from exc
        except BadSignature as exc:
            raise InvalidTokenError("invalid session token") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("uid"), int):
            raise InvalidTokenError("invalid session token")
        return int(payload["uid"])
