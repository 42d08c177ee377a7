"""Planner statistics kept up as tables grow, on PostgreSQL.

The hot statements (the group commit's lookups, pricing's reads) are prepared: after five
executions PostgreSQL may keep one generic plan for the connection's life, made with the
statistics of that moment. Planned while ``documents`` held a few hundred rows, a lookup by
patient or by document number is a scan of the whole table, and stays one as the table
grows, until the table is analyzed again (which invalidates the plan). On a server whose
autovacuum is off, or has not come round yet, that never happens: on a young database
each group commit then paid milliseconds more for every thousand documents stored.

``analyze_stale`` analyzes the schema's tables that have grown to GROWTH times the rows
their statistics counted (more rows changed since the last ANALYZE than
``autovacuum_analyze_threshold`` + (GROWTH - 1) x those rows). That is enough for plans
to follow a young table; the finer upkeep of big tables (2% changed, migration 0009) is
autovacuum's. Analyzing a table of millions of rows costs about a second of the server's
time, so geometric steps keep it to a few runs over a table's life; at autovacuum's own
2% a batch of 100,000 documents into a young database paid 18 s of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.upkeep import repository as store

GROWTH = 4


def stale_tables(session: Session) -> list[str]:
    """The tables grown to GROWTH times the rows their statistics counted (none elsewhere
    than PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    return store.grown_tables(session, GROWTH)


@dataclass(frozen=True, slots=True)
class Analyzed:
    analyzed: list[str]
    left: list[str]  # still stale after: locked by another session, or not this role's


def analyze_stale(session: Session) -> Analyzed:
    """ANALYZE the stale tables. A table another session is analyzing or vacuuming is
    skipped, not waited for (its statistics are being made); one this role does not own
    is skipped by PostgreSQL with a warning. Both stay stale, and are told apart from
    those analyzed by asking again (on PostgreSQL 15 and later the counters are reset as
    ANALYZE ends; before, they may lag and a table count as left)."""
    tables = stale_tables(session)
    if not tables:
        return Analyzed([], [])
    store.analyze(session, tables)
    still = set(stale_tables(session))
    return Analyzed([t for t in tables if t not in still], [t for t in tables if t in still])
