"""The business signals: backlogs and their ages, money owed, the audit chain's health and
per-centre figures, read from the database by one collector for every API process.

Every API process runs the collector among its chores, but on PostgreSQL only the one
holding an advisory lock reads: it keeps the lock (and one connection) while it lives,
and when it ends the database frees the lock for the next process that tries. The gauges
keep the value most recently written by a live process, so a scrape of any process shows
the collector's figures. On SQLite a single API process is the norm and it always reads.

The fast figures are read every GATEWAY_SIGNALS_INTERVAL_S; money owed and the per-centre
family, which read far more rows and change by the day, every
GATEWAY_SIGNALS_SLOW_INTERVAL_S.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain
from gateway.information import service as information
from gateway.referrals import figures as programme_figures
from gateway.settings import Settings, today
from gateway.storage.models import utcnow
from gateway.upkeep import repository as signals

log = logging.getLogger(__name__)


def _age(since: datetime | None, now: datetime) -> float:
    if since is None:
        return 0.0
    aware = since if since.tzinfo is not None else since.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - aware).total_seconds())


def read_fast(session: Session, *, audit_entries: int, now: datetime) -> None:
    """Review backlog, appeals, open requests for information, pricing lag and the audit
    chain's newest entries."""
    review = signals.review(session)
    metrics.REVIEW_BACKLOG.set(review.backlog.count)
    metrics.REVIEW_OLDEST.set(_age(review.backlog.since, now))
    metrics.APPEALS_OPEN.set(review.appeals.count)
    metrics.APPEALS_OLDEST.set(_age(review.appeals.since, now))
    pricing = signals.awaiting_pricing(session)
    metrics.PRICING_BACKLOG.set(pricing.count)
    metrics.PRICING_OLDEST.set(_age(pricing.since, now))
    asked = information.waiting(session, now)
    metrics.INFORMATION_OPEN.set(asked.count)
    metrics.INFORMATION_OPEN_OVERDUE.set(asked.overdue)
    metrics.INFORMATION_OLDEST.set(_age(asked.since, now))
    verdict = chain.verify_newest(session, audit_entries)
    if not verdict.ok:
        log.error("the audit chain is broken at entry %s: %s", verdict.broken_seq, verdict.problem)
    metrics.AUDIT_CHAIN_OK.set(1 if verdict.ok else 0)
    metrics.AUDIT_VERIFIED_AT.set(time.time())


class CentreFamily:
    """The per-centre gauges; remembers the centres it reported, so one that drops out of
    the query (no documents for two days) is set to zero rather than left at its last
    figure."""

    def __init__(self) -> None:
        self.reported: set[str] = set()

    def update(self, rows: list[signals.CentreDay]) -> None:
        seen = set()
        for row in rows:
            seen.add(row.code)
            metrics.CENTRE_DOCUMENTS.labels(row.code).set(row.documents)
            metrics.CENTRE_REJECTED.labels(row.code).set(row.rejected)
            metrics.CENTRE_DEDUCTED.labels(row.code).set(row.deducted)
        for code in self.reported - seen:
            for gauge in (
                metrics.CENTRE_DOCUMENTS,
                metrics.CENTRE_REJECTED,
                metrics.CENTRE_DEDUCTED,
            ):
                gauge.labels(code).set(0)
        self.reported = seen


class ProgrammeFamily:
    """The referral programme's gauges; a label set that drops out is set to zero."""

    def __init__(self) -> None:
        self.reported: dict[Gauge, set[tuple[str, ...]]] = {}

    def _set(self, gauge: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        for labels in self.reported.get(gauge, set()) - set(values):
            gauge.labels(*labels).set(0)
        self.reported[gauge] = set(values)

    def update(self, figures: programme_figures.Figures) -> None:
        self._set(metrics.REFERRALS_BY_STATUS, figures.statuses)
        self._set(metrics.SPECIALIST_VISITS, figures.visits)
        self._set(
            metrics.REFERRAL_FEEDBACK_DUE, {(c,): due for c, (due, _) in figures.feedback.items()}
        )
        self._set(
            metrics.REFERRAL_FEEDBACK_TIMELY,
            {(c,): done for c, (_, done) in figures.feedback.items()},
        )


def read_slow(
    session: Session,
    family: CentreFamily,
    *,
    now: datetime,
    programme: ProgrammeFamily | None = None,
    settings: Settings | None = None,
) -> None:
    """Money owed by stage and age, the per-centre figures of the last day and the
    referral programme's figures."""
    owed = {(row.stage, row.age): row.rials for row in signals.owed(session, now)}
    ages = [label for label, _ in signals.AGE_BUCKETS] + [signals.OLDEST]
    for stage in signals.STAGES:
        for age in ages:
            metrics.OWED.labels(stage, age).set(owed.get((stage, age), 0))
    family.update(signals.centres_lately(session, now))
    if programme is not None and settings is not None:
        programme.update(
            programme_figures.figures(
                session=session,
                today=today(settings),
                feedback_days=settings.referral_feedback_days,
            )
        )


class Collector:
    """One round per call (a chore of the API's upkeep); see the module's docstring."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.audit_entries = settings.signals_audit_entries
        self.slow_every = settings.signals_slow_interval_s
        self.slow_due = 0.0
        self.family = CentreFamily()
        self.programme = ProgrammeFamily()
        self.settings = settings
        self.held: Connection | None = None  # PostgreSQL: the connection holding the lock

    def _connection(self) -> Connection | None:
        """A connection to read on, or None while another process is the collector."""
        if self.engine.dialect.name != "postgresql":
            return self.engine.connect()
        if self.held is not None and not self.held.closed and not self.held.invalidated:
            return self.held
        connection = self.engine.connect()
        try:
            with Session(bind=connection) as session:
                took = signals.try_lock_collector(session)
                session.commit()
        except Exception:
            connection.invalidate()
            connection.close()
            raise
        if not took:
            connection.close()
            return None
        self.held = connection
        log.info("this process now collects the business signals")
        return connection

    def run(self) -> None:
        connection = self._connection()
        if connection is None:
            return
        try:
            self._round(connection)
        except Exception:
            if connection is self.held:  # a broken connection may have lost the lock
                self.held = None
                connection.invalidate()
            raise
        finally:
            if connection is not self.held:
                connection.close()

    def _round(self, connection: Connection) -> None:
        now = utcnow()
        with Session(bind=connection) as session:
            read_fast(session, audit_entries=self.audit_entries, now=now)
            if time.monotonic() >= self.slow_due:
                read_slow(
                    session, self.family, now=now, programme=self.programme, settings=self.settings
                )
                self.slow_due = time.monotonic() + self.slow_every
            session.rollback()  # read only
        metrics.SIGNALS_COLLECTED_AT.set(time.time())

    def close(self) -> None:
        """Let the lock go (another process takes over at its next round)."""
        if self.held is not None:
            if not self.held.closed and not self.held.invalidated:
                with contextlib.suppress(Exception), Session(bind=self.held) as session:
                    signals.unlock_collector(session)
                    session.commit()
            self.held.invalidate()
            self.held.close()
            self.held = None
