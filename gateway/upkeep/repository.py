"""The SQL of the business signals (``gateway.upkeep.signals``): levels only a query can
tell, each read by an index (tests/storage/test_query_plans.py plans them on millions of
rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from gateway.domain.centres import CentreKind
from gateway.domain.lifecycle import DocumentStatus
from gateway.storage.models import Appeal, Centre, Document, Submission

S = DocumentStatus
# The advisory lock the collector holds while it is the one collector of all API
# processes on a PostgreSQL database (any fixed number; "signals" in ASCII).
COLLECTOR_LOCK = 0x7369676E616C73


@dataclass(frozen=True, slots=True)
class Waiting:
    """How many wait, and since when the longest-waiting one has (None when none)."""

    count: int
    since: datetime | None


@dataclass(frozen=True, slots=True)
class Review:
    backlog: Waiting
    appeals: Waiting


# Age of money owed, in whole days since approval: the bucket's label and the first whole
# day past it; older than every bound is OLDEST (91 days or more).
AGE_BUCKETS = (("0-30", 31), ("31-60", 61), ("61-90", 91))
OLDEST = "90+"
STAGES = ("approved", "ordered")


@dataclass(frozen=True, slots=True)
class Owed:
    stage: str  # approved (not yet in a payment order) | ordered (in one not yet paid)
    age: str  # a label of AGE_BUCKETS, or OLDEST
    rials: int


@dataclass(frozen=True, slots=True)
class CentreDay:
    code: str
    documents: int
    rejected: int
    deducted: int


def try_lock_collector(session: Session) -> bool:
    """Take the collector's lock for this session's connection, if no other holds it.

    A session-level lock: it stays while the connection lives (across commits), and the
    database lets it go when the connection ends, with its process or otherwise.
    """
    return bool(session.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": COLLECTOR_LOCK}))


def unlock_collector(session: Session) -> None:
    """Let the collector's lock go now (closing the connection frees it too, but only once
    the server has noticed, which another process could race)."""
    session.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": COLLECTOR_LOCK})


def review(session: Session) -> Review:
    """Documents under review, waiting since they were priced or, when appealed, since
    their latest appeal (the appeal that put them back in review)."""
    appealed = (
        select(func.max(Appeal.created_at))
        .where(Appeal.document_id == Document.id)
        .correlate(Document)
        .scalar_subquery()
    )
    waiting = (
        select(Document.priced_at.label("priced"), appealed.label("appealed"))
        .where(Document.status == S.UNDER_REVIEW)
        .subquery()
    )
    count, since, appeals, appealed_since = session.execute(
        select(
            func.count(),
            func.min(func.coalesce(waiting.c.appealed, waiting.c.priced)),
            func.count(waiting.c.appealed),
            func.min(waiting.c.appealed),
        )
    ).one()
    return Review(Waiting(count, since), Waiting(appeals, appealed_since))


def awaiting_pricing(session: Session) -> Waiting:
    """Documents accepted and not yet priced, and the oldest one's arrival (its creation:
    the sweeper touches ``updated_at`` when it re-queues one)."""
    count, since = session.execute(
        select(func.count(), func.min(Document.created_at)).where(Document.status == S.ACCEPTED)
    ).one()
    return Waiting(count, since)


def owed(session: Session, now: datetime) -> list[Owed]:
    """The insurer's share of contracted centres' bills approved and not yet paid, by
    stage and age (estimates are never owed)."""
    stage = case((Document.status == S.APPROVED, "approved"), else_="ordered")
    approved = func.coalesce(Document.decided_at, Document.priced_at)
    age = case(
        *[(approved > now - timedelta(days=days), label) for label, days in AGE_BUCKETS],
        else_=OLDEST,
    )
    query = (
        select(stage, age, func.sum(Document.insurer_amount))
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Document.status.in_((S.APPROVED, S.PAYMENT_ORDERED)),
            Document.purpose == "claim",
            Centre.kind == CentreKind.CONTRACTED,
        )
        .group_by(stage, age)
    )
    return [Owed(s, a, int(rials or 0)) for s, a, rials in session.execute(query)]


def centres_lately(session: Session, now: datetime) -> list[CentreDay]:
    """Per centre with documents in the last two days: the last day's documents, those
    rejected, and the rials deducted from them so far. Centres quiet on the last day come
    with zeros, so a figure once reported falls back to zero before it is dropped."""
    day = now - timedelta(days=1)
    recent = Submission.received_at >= day
    query = (
        select(
            Centre.code,
            func.count().filter(recent),
            func.count().filter(recent, Document.status == S.REJECTED),
            func.coalesce(func.sum(Document.deduction_amount).filter(recent), 0),
        )
        .select_from(Centre)
        .join(
            Submission,
            (Submission.centre_id == Centre.id)
            & (Submission.received_at >= now - timedelta(days=2)),
        )
        .join(Document, Document.submission_id == Submission.id)
        .group_by(Centre.code)
        .order_by(Centre.code)
    )
    return [
        CentreDay(code, documents, rejected, int(deducted or 0))
        for code, documents, rejected, deducted in session.execute(query)
    ]
