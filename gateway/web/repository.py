"""The SQL of the workspace: the login throttle's counts (``gateway.web.throttle``).

Each change is one atomic statement, so API processes racing on the same key neither
lose a failure nor lock twice. Staff users are read through ``gateway.admin.repository``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.storage.models import LoginThrottle


def locked_until(db: Session, keys: Sequence[str]) -> float | None:
    """The latest end of a lock on any of ``keys`` (None when none was ever locked)."""
    return db.scalar(
        select(func.max(LoginThrottle.locked_until)).where(LoginThrottle.key.in_(keys))
    )


def clear(db: Session, key: str) -> None:
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def ensure_row(db: Session, key: str, now: float) -> None:
    """The key's row, made with no failures if it is missing."""
    values = {"key": key, "failures": 0, "window_start": now, "locked_until": None, "locks": 0}
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing())


def count_failure(db: Session, key: str, *, now: float, stale: float) -> tuple[int, int]:
    """Count one failure against ``key``, starting a new window at ``now`` when the one
    begun at or before ``stale`` is over (and the locks in a row again when its last lock
    ended by then too); the failures and the locks in a row so far."""
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
    return int(counted[0]), int(counted[1])


def place_lock(db: Session, key: str, *, limit: int, now: float, until: float, number: int) -> bool:
    """Lock ``key`` until ``until`` as the ``number``-th lock in a row, and start its count
    again, if its failures still reach ``limit``; whether it was locked here. Of two
    processes racing past the limit, one places the lock and the other finds the count
    already reset."""
    placed = db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures >= limit)
        .values(failures=0, window_start=now, locked_until=until, locks=number)
        .returning(LoginThrottle.key)
    ).first()
    return placed is not None


def forget_stale(db: Session, stale: float) -> None:
    """Delete the rows whose window and lock both ended by ``stale``."""
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start <= stale,
            func.coalesce(LoginThrottle.locked_until, 0.0) <= stale,
        )
    )
