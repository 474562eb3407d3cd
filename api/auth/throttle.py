"""When failed logins stop a login: per account *and* client address (SPEC §9).

- **Per pair** (account, client address): ``login_max_failures`` wrong passwords in a row from
  one address lock that account *from that address* for ``login_lockout_minutes``. Someone
  guessing from elsewhere locks only themselves out; the user at their own workstation is not
  touched.
- **Per account**, across addresses: ``login_account_max_failures`` wrong passwords (each
  counted within ``login_lockout_minutes`` of the one before) lock the account for the same
  time against guessing spread over many addresses, but **not from an address the account has
  logged in from before** (a "known" address). So locking someone out from elsewhere costs the
  attacker many addresses and still leaves the user working where they log in every day; only
  a new address of the user is kept out until the lock ends or an admin clears it
  (``POST /v1/users/{id}/unlock``, ``vigil users unlock``).

Pure functions over the counters; ``api.auth.service`` loads and stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Counter:
    failures: int
    last_failure_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class Limits:
    pair_max: int
    account_max: int
    lockout: timedelta


def locked(now: datetime, pair: Counter, account: Counter, *, known_address: bool) -> bool:
    if pair.locked_until is not None and pair.locked_until > now:
        return True
    return account.locked_until is not None and account.locked_until > now and not known_address


def count_failure(now: datetime, counter: Counter, limit: int, lockout: timedelta) -> bool:
    """One more failure on ``counter`` (failures older than ``lockout`` before it are
    forgotten); True when it now locks."""
    if counter.last_failure_at is None or now - counter.last_failure_at > lockout:
        counter.failures = 0
    counter.failures += 1
    counter.last_failure_at = now
    if counter.failures >= limit:
        counter.locked_until = now + lockout
        counter.failures = 0
        return True
    return False
