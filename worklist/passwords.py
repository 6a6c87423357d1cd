"""What a password must be: long enough, and not guessable (zxcvbn's estimate).

The one home of the rule. Whoever sets a password (an administrator creating an account or
resetting its password, a user changing their own) checks it here first; the service hashes
it afterwards, so the worklist never stores or sees more than the argon2 hash.

zxcvbn estimates how many guesses an attacker needs, knowing the common passwords, names,
keyboard patterns, repeats and dates, and scores that 0-4; it is also told the account's own
name and display name, and each word in them (``user_inputs``), so ``pjansen12345`` is weak
for the account ``pjansen``. Its feedback says what is wrong, and the refusal passes that on.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import zxcvbn

from worklist.errors import ValidationError

DEFAULT_MIN_LENGTH = 12
DEFAULT_MIN_SCORE = 3  # "safely unguessable: moderate protection from offline slow-hash scenario"
# zxcvbn refuses longer input (its matching grows fast with length); the first 72 characters
# decide the score, which is ample: a password weak in its first 72 characters is weak.
_SCORED_CHARS = 72
# Words anyone attacking this service would try first.
_SERVICE_WORDS = ("coupe", "pathology", "pathologist", "patholoog")


class WeakPasswordError(ValidationError):
    """A password the policy refuses; the message says why and what would help."""


@functools.cache
def _zxcvbn_lock() -> threading.Lock:
    # zxcvbn keeps the user inputs of the call in a module-level dictionary: two threads
    # scoring at once would each be checked against the other's names.
    return threading.Lock()


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """At least ``min_length`` characters and a zxcvbn score of at least ``min_score`` (0-4)."""

    min_length: int = DEFAULT_MIN_LENGTH
    min_score: int = DEFAULT_MIN_SCORE

    def check(self, password: str, *, user_inputs: Iterable[str | None] = ()) -> None:
        """Refuse ``password`` (:class:`WeakPasswordError`) unless it meets the policy.

        ``user_inputs``: what the account is called (user name, display name); a password
        built from them is refused.
        """
        if len(password) < self.min_length:
            raise WeakPasswordError(
                f"a password needs at least {self.min_length} characters; "
                f"this one has {len(password)}"
            )
        words = [*_SERVICE_WORDS, *_words_of(user_inputs)]
        with _zxcvbn_lock():
            result = zxcvbn.zxcvbn(password[:_SCORED_CHARS], user_inputs=words)
        score = int(result["score"])
        if score < self.min_score:
            feedback = result["feedback"]
            reasons = [feedback["warning"], *feedback["suggestions"]]
            why = " ".join(reason for reason in reasons if reason) or "It is easy to guess."
            raise WeakPasswordError(
                f"this password is too easy to guess (strength {score} of 4, "
                f"{self.min_score} needed). {why}"
            )


def _words_of(user_inputs: Iterable[str | None]) -> list[str]:
    """Each input whole and its words of three letters or more ("P. Jansen": "jansen")."""
    words = []
    for text in user_inputs:
        if text:
            words.append(text)
            words.extend(word for word in re.findall(r"[^\W_]+", text) if len(word) >= 3)
    return words
