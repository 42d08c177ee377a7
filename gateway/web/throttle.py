"""Throttling of workspace logins: per account and per client address.

Failed logins are counted per account (the name typed, whether it exists or not, so a lock
tells nothing about which names do) and per client address. Once either count reaches its
limit within the window, that key is locked: every try on it is refused before the
password is looked at (no argon2 hash is spent), the right password included. The first
lock lasts ``login_lock_s``; each lock that follows before a quiet window has passed lasts
twice as long as the one before, up to ``login_lock_max_s``. A successful login clears the
account's count; the address's count is left to its window, so that an attacker who owns
one account cannot clear their address by logging into it between guesses.

The counts live in the database (table ``login_throttles``): every API process shares them
and they survive a restart, whatever else is deployed. Each change is one atomic UPDATE,
so processes racing on the same key neither lose a failure nor lock twice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.settings import Settings
from gateway.web import repository as store

# Seconds since the epoch; tests replace it to move time on without waiting.
clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock just placed on ``key`` after ``failures`` failures; ``number`` counts the
    locks in a row (1 for the first)."""

    key: str
    failures: int
    seconds: float
    number: int


def account_key(username: str) -> str:
    return f"account:{username[:200]}"


def client_key(address: str) -> str:
    return f"client:{address[:45]}"


def keys_of(username: str, client: str) -> list[str]:
    """The keys a login try counts against (no address key when the peer is unknown)."""
    return [account_key(username)] + ([client_key(client)] if client else [])


def wait(db: Session, keys: Sequence[str], now: float) -> float:
    """Seconds until none of ``keys`` is locked; 0 when a try may go on."""
    until = store.locked_until(db, keys)
    return max(0.0, (until or 0.0) - now)


def lock_seconds(settings: Settings, earlier_locks: int) -> float:
    """The length of a lock that follows ``earlier_locks`` locks in a row."""
    doubling = settings.login_lock_s * 2.0 ** min(earlier_locks, 32)
    return min(doubling, settings.login_lock_max_s)


def retry_after(seconds: float) -> int:
    """Whole seconds for the Retry-After header, never 0 while a lock holds."""
    return max(1, math.ceil(seconds))


def failed(
    db: Session, *, username: str, client: str, settings: Settings, now: float
) -> list[Lock]:
    """Count a failed login against the account and the address; the locks it caused."""
    _forget_stale(db, now - settings.login_failure_window_s)
    limits = {account_key(username): settings.login_max_failures}
    if client:
        limits[client_key(client)] = settings.login_client_max_failures
    locks = []
    for key, limit in limits.items():
        lock = _count(db, key, limit, settings, now)
        if lock is not None:
            locks.append(lock)
    return locks


def succeeded(db: Session, *, username: str) -> None:
    """The account's count starts again (its address's does not)."""
    store.clear(db, account_key(username))


def _count(db: Session, key: str, limit: int, settings: Settings, now: float) -> Lock | None:
    store.ensure_row(db, key, now)
    failures, earlier = store.count_failure(
        db, key, now=now, stale=now - settings.login_failure_window_s
    )
    if failures < limit:
        return None
    seconds = lock_seconds(settings, earlier)
    placed = store.place_lock(
        db, key, limit=limit, now=now, until=now + seconds, number=earlier + 1
    )
    return Lock(key, failures, seconds, earlier + 1) if placed else None


def _forget_stale(db: Session, stale: float) -> None:
    """Rows whose window and lock are both over say nothing any more: the next failure
    would start them afresh anyway. Deleting them keeps the table to recent keys."""
    store.forget_stale(db, stale)
