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

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.settings import Settings
from gateway.storage.models import LoginThrottle

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
    until = db.scalar(
        select(func.max(LoginThrottle.locked_until)).where(LoginThrottle.key.in_(keys))
    )
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
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(username)))


def _count(db: Session, key: str, limit: int, settings: Settings, now: float) -> Lock | None:
    _ensure_row(db, key, now)
    stale = now - settings.login_failure_window_s
    window_over = LoginThrottle.window_start <= stale
    quiet = window_over & (func.coalesce(LoginThrottle.locked_until, 0.0) <= stale)
    counted = db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(
            failures=case((window_over, 1), else_=LoginThrottle.failures + 1),
            window_start=case((window_over, now), else_=LoginThrottle.window_start),
            locks=case((quiet, 0), else_=LoginThrottle.locks),
        )
        .returning(LoginThrottle.failures, LoginThrottle.locks)
    ).one()
    failures, earlier = int(counted[0]), int(counted[1])
    if failures < limit:
        return None
    seconds = lock_seconds(settings, earlier)
    # Conditional on the count still being over the limit: of two processes racing past
    # it, one places the lock and the other finds the count already reset.
    placed = db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures >= limit)
        .values(failures=0, window_start=now, locked_until=now + seconds, locks=earlier + 1)
        .returning(LoginThrottle.key)
    ).first()
    return Lock(key, failures, seconds, earlier + 1) if placed else None


def _ensure_row(db: Session, key: str, now: float) -> None:
    values = {"key": key, "failures": 0, "window_start": now, "locked_until": None, "locks": 0}
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing())


def _forget_stale(db: Session, stale: float) -> None:
    """Rows whose window and lock are both over say nothing any more: the next failure
    would start them afresh anyway. Deleting them keeps the table to recent keys."""
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start <= stale,
            func.coalesce(LoginThrottle.locked_until, 0.0) <= stale,
        )
    )
