"""Password hashing with Argon2 (pwdlib's recommended settings) and the rules a new password
must meet (SPEC §9, NIST SP 800-63B §5.1.1.2): at least 12 characters, not the username, not a
commonly used password.

The common passwords are the 30,000 most frequent ones of the ``zxcvbn`` package's list
(Dropbox's zxcvbn, built from leaked password corpora), compared after Unicode case folding.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 12


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not the user exists: an unknown user verifies a dummy hash."""
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False
    return bool(_hasher().verify(password, password_hash))


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash("vigil-dummy-password-for-timing")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


@lru_cache
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(_fold(p) for p in FREQUENCY_LISTS["passwords"])


def _repeats_a_short_pattern(folded: str) -> bool:
    """``aaaaaaaaaaaa``, ``abcabcabcabc``, ``passwordpassword``: a run of one short or common
    piece is no longer than that piece to guess."""
    for size in range(1, len(folded) // 2 + 1):
        if len(folded) % size == 0 and folded[:size] * (len(folded) // size) == folded:
            piece = folded[:size]
            if size <= 4 or piece in common_passwords():
                return True
    return False


# Keyboard rows and runs: "qwertyuiopas", "123456789012" are guessed as early as any list entry.
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1234567890" * 3,
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)
_PADDING = "0123456789!@#$%^&*()-_=+.,;:?~ "


def _is_a_run(folded: str) -> bool:
    return any(folded in run or folded in run[::-1] for run in _RUNS)


def _common(folded: str) -> bool:
    """A common password, maybe with digits or symbols around it (``password12345``)."""
    if folded in common_passwords() or _is_a_run(folded) or _repeats_a_short_pattern(folded):
        return True
    core = folded.strip(_PADDING)
    return len(core) >= 3 and (core in common_passwords() or _is_a_run(core))


def password_problem(password: str, username: str | None = None) -> str | None:
    """What is wrong with ``password`` as a new password, in words; None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    folded = _fold(password)
    if username is not None and folded == _fold(username):
        return "must not be the username"
    if _common(folded):
        return "is a commonly used password; choose another (a few unrelated words work well)"
    return None
