"""The password policy: long enough, hard to guess, not built from the account's names."""

from __future__ import annotations

import time

import pytest

from worklist.errors import ValidationError
from worklist.passwords import PasswordPolicy, WeakPasswordError

POLICY = PasswordPolicy()


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaaaa", "Repeats"),
        ("password1234", "very common password"),
        ("zxcvbnm,./asdf", "rows of keys"),
        ("abcdefghijklmnop", "Sequences"),
    ],
)
def test_guessable_passwords_are_refused_saying_why(password: str, why: str) -> None:
    with pytest.raises(WeakPasswordError, match=why) as refused:
        POLICY.check(password)
    assert "too easy to guess" in str(refused.value)
    assert isinstance(refused.value, ValidationError)  # a 422 at the service


def test_a_short_password_is_refused_naming_the_minimum() -> None:
    with pytest.raises(WeakPasswordError, match="at least 12 characters; this one has 11"):
        POLICY.check("x9$Lq!v2#Tz")
    with pytest.raises(WeakPasswordError, match="at least 20 characters"):
        PasswordPolicy(min_length=20).check("correct horse battery"[:19])


def test_a_password_built_from_the_account_name_is_refused() -> None:
    POLICY.check("pjansen12345", user_inputs=("bakker", "C. Bakker"))  # someone else's name
    with pytest.raises(WeakPasswordError):
        POLICY.check("pjansen12345", user_inputs=("pjansen", "P. Jansen"))
    with pytest.raises(WeakPasswordError):  # a word of the display name counts on its own
        POLICY.check("Vermeulen1234", user_inputs=("pv", "dr. P. Vermeulen"))


def test_strong_passwords_pass() -> None:
    for password in ("correct horse battery", "Tr0ub4dour&3xyz", "lantaarnpaal-gieter-97"):
        POLICY.check(password, user_inputs=("pjansen", "P. Jansen", None))


def test_a_long_weak_password_is_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(WeakPasswordError):
        POLICY.check("a" * 1024)
    assert time.perf_counter() - started < 1.0
