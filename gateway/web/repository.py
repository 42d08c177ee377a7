"""The workspace's own SQL: the login throttle's counts (``gateway.web.throttle``; each
change one atomic statement, so API processes racing on the same key neither lose a
failure nor lock twice), and its reads: tariff titles, a patient's other documents,
people's names, the next document to review and the dashboard's charts. Reads other
features share live in their repositories (documents, submissions, storage); staff users
are read through ``gateway.admin.repository``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.storage.models import (
    ApiToken,
    Centre,
    Document,
    LineDeduction,
    LoginThrottle,
    ReviewClaim,
    StaffUser,
    TariffItemRow,
)


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


def tariff_titles(session: Session, version_id: int | None, codes: set[str]) -> dict[str, str]:
    """The tariff's titles of these service and drug codes: of the version the document
    was priced with, else of the newest version that has them."""
    if not codes:
        return {}
    query = select(TariffItemRow.code, TariffItemRow.title).where(TariffItemRow.code.in_(codes))
    if version_id is not None:
        query = query.where(TariffItemRow.version_id == version_id)
    else:
        query = query.order_by(TariffItemRow.version_id)  # newest last: it wins below
    return {key: value for key, value in session.execute(query)}  # noqa: C416 - rows to pairs


def patient_documents(
    session: Session, national_id: str, since: date, but: uuid.UUID, most: int = 50
) -> list[tuple[Document, str]]:
    """The patient's other documents served since ``since``, at any centre, newest first."""
    query = (
        select(Document, Centre.code)
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Document.patient_national_id == national_id,
            Document.service_date >= since,
            Document.id != but,
        )
        .order_by(Document.service_date.desc(), Document.created_at.desc())
        .limit(most)
    )
    return [(d, code) for d, code in session.execute(query).all()]


def staff_names(session: Session, usernames: set[str]) -> dict[str, str]:
    """Display names of workspace users by user name."""
    if not usernames:
        return {}
    query = select(StaffUser.username, StaffUser.display_name).where(
        StaffUser.username.in_(usernames)
    )
    return {key: value for key, value in session.execute(query)}  # noqa: C416 - rows to pairs


def token_labels(session: Session, ids: set[int]) -> dict[int, str]:
    """Labels of API tokens by id (staff tokens act as ``ROLE:ID``)."""
    if not ids:
        return {}
    query = select(ApiToken.id, ApiToken.label).where(ApiToken.id.in_(ids))
    return {key: value for key, value in session.execute(query)}  # noqa: C416 - rows to pairs


def next_in_review(
    session: Session, after: uuid.UUID, holder_id: int, now: datetime
) -> uuid.UUID | None:
    """The document to open after this one: the oldest of the user's live claims, else the
    oldest unclaimed document under review."""
    others = (Document.id != after, Document.status == "UNDER_REVIEW")
    mine = (
        select(Document.id)
        .join(ReviewClaim, ReviewClaim.document_id == Document.id)
        .where(*others, ReviewClaim.holder_id == holder_id, ReviewClaim.expires_at > now)
        .order_by(Document.created_at, Document.id)
        .limit(1)
    )
    found = session.scalar(mine)
    if found is not None:
        return found
    held = select(ReviewClaim.document_id).where(
        ReviewClaim.document_id == Document.id, ReviewClaim.expires_at > now
    )
    free = (
        select(Document.id)
        .where(*others, ~held.exists())
        .order_by(Document.created_at, Document.id)
        .limit(1)
    )
    return session.scalar(free)


@dataclass(frozen=True, slots=True)
class Day:
    day: str  # YYYY-MM-DD (UTC)
    documents: int
    requested: int


def per_day(session: Session, since: datetime) -> list[Day]:
    """Documents received and their requested amount, per day since ``since``."""
    day = func.date(Document.created_at)
    query = (
        select(day, func.count(), func.coalesce(func.sum(Document.requested_amount), 0))
        .where(Document.created_at >= since)
        .group_by(day)
        .order_by(day)
    )
    return [Day(str(d), int(n), int(amount or 0)) for d, n, amount in session.execute(query)]


def deductions_by_reason(session: Session) -> list[tuple[str, int]]:
    """Every deduction's amount, summed by reason, largest first."""
    total = func.coalesce(func.sum(LineDeduction.amount), 0)
    query = (
        select(LineDeduction.reason, total).group_by(LineDeduction.reason).order_by(total.desc())
    )
    return [(str(reason), int(amount or 0)) for reason, amount in session.execute(query)]


AGE_BUCKETS = (1, 3, 7, 14, 30)  # days: under 1, 1-3, 3-7, 7-14, 14-30, over 30


def _age_bucket(column: Any, now: datetime) -> Any:
    """The index of the age bucket a timestamp falls in (0: under a day)."""
    edges = [now - timedelta(days=d) for d in AGE_BUCKETS]
    return case(*[(column > edge, i) for i, edge in enumerate(edges)], else_=len(edges))


def backlog_by_age(session: Session, now: datetime) -> list[tuple[int, int, int]]:
    """Documents under review by age bucket (index into AGE_BUCKETS): count, requested."""
    bucket = _age_bucket(Document.created_at, now)
    query = (
        select(bucket, func.count(), func.coalesce(func.sum(Document.requested_amount), 0))
        .where(Document.status == "UNDER_REVIEW")
        .group_by(bucket)
    )
    return [(int(b), int(n), int(a or 0)) for b, n, a in session.execute(query)]


def owed_by_age(session: Session, now: datetime) -> list[tuple[str, int, int]]:
    """The insurer's share owed to contracted centres, by what waits (approved not yet
    ordered; ordered not yet paid) and by age bucket of the decision."""
    bucket = _age_bucket(Document.decided_at, now)
    query = (
        select(
            Document.status,
            bucket,
            func.coalesce(func.sum(Document.insurer_amount), 0),
        )
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Centre.kind == "contracted",
            Document.purpose == "claim",
            Document.status.in_(("APPROVED", "PAYMENT_ORDERED")),
        )
        .group_by(Document.status, bucket)
    )
    return [(str(s), int(b), int(a or 0)) for s, b, a in session.execute(query)]


@dataclass(frozen=True, slots=True)
class CentreRates:
    code: str
    documents: int
    rejected: int
    requested: int
    deducted: int

    @property
    def rejection_rate(self) -> float:
        return self.rejected / self.documents if self.documents else 0.0

    @property
    def deduction_rate(self) -> float:
        return self.deducted / self.requested if self.requested else 0.0


def centre_rates(session: Session, most: int = 20) -> list[CentreRates]:
    """The busiest centres' documents, rejections, requested and deducted amounts."""
    rejected = func.sum(case((Document.status == "REJECTED", 1), else_=0))
    count = func.count()
    query = (
        select(
            Centre.code,
            count,
            rejected,
            func.coalesce(func.sum(Document.requested_amount), 0),
            func.coalesce(func.sum(Document.deduction_amount), 0),
        )
        .join(Centre, Centre.id == Document.centre_id)
        .group_by(Centre.code)
        .order_by(count.desc(), Centre.code)
        .limit(most)
    )
    return [
        CentreRates(str(c), int(n), int(r or 0), int(q or 0), int(d or 0))
        for c, n, r, q, d in session.execute(query)
    ]
