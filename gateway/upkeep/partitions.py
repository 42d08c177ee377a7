"""Monthly partitions of the append-only tables on PostgreSQL (migration 0009).

Each table has a partition per UTC month and a DEFAULT one that takes rows of months not
made yet, so an insert never fails; ``ensure_months`` makes the months from this one to
``MONTHS_AHEAD`` ahead (moving rows the default took for them). The sweeper runs it, and
``gateway db partitions`` runs it by hand. Elsewhere than PostgreSQL the tables are plain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.storage.models import utcnow
from gateway.upkeep import repository as store

# Table: the time column it is partitioned by.
PARTITIONED = {"status_events": "created_at", "audit_log": "at", "webhook_deliveries": "created_at"}
MONTHS_AHEAD = 3


def partitioned(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def ensure_months(
    session: Session, *, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD
) -> int:
    """Make the missing monthly partitions from ``now``'s month to ``months_ahead`` months
    on; returns how many were made."""
    if not partitioned(session):
        return 0
    start = now or utcnow()
    end = start + timedelta(days=31 * months_ahead)
    made = 0
    for table in PARTITIONED:
        made += store.make_month_partitions(session, table, start, end)
    return made


@dataclass(frozen=True, slots=True)
class Partition:
    table: str
    name: str
    bounds: str  # FOR VALUES FROM (...) TO (...), or DEFAULT
    rows: int  # the planner's estimate (exact only after ANALYZE)


def partitions(session: Session) -> list[Partition]:
    """Every partition of the partitioned tables, in order."""
    if not partitioned(session):
        return []
    return [Partition(*row) for row in store.partitions_of(session, list(PARTITIONED))]
