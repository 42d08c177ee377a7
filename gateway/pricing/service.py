"""Pricing stored documents a batch at a time, in the caller's transaction: lock those
awaiting pricing, read what they need in a fixed number of queries, price each with the
pure engine, write every result in bulk, and approve each document or send it to review.

One document is a batch of one: there is a single implementation.
"""

from __future__ import annotations

import gc
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import journal
from gateway.domain.documents import DocumentKind, Line, Purpose, period_of_care
from gateway.domain.lifecycle import DocumentStatus, Transition, transition
from gateway.domain.referrals import NO_ROLLOUT, Rollout, required_level
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import Grade, TariffBook
from gateway.payers import service as payers
from gateway.pricing import repository as store
from gateway.pricing.engine.adjudicate import (
    CopayPolicy,
    DocumentPrice,
    PricingRequest,
    price_document,
)
from gateway.pricing.engine.memo import ByIdentity
from gateway.pricing.engine.review import ReviewDecision, ReviewPolicy, decide
from gateway.pricing.engine.rules import UnitPrice
from gateway.referrals import service as referrals
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import utc_day, utcnow

ACTOR = "worker:pricing"
REVIEW_ACTOR = "worker:review-sampling"


class NoTariffError(RuntimeError):
    """No tariff book has been imported; pricing waits (and retries) until one is."""


class TariffCache:
    """The newest tariff book, reloaded only when a newer version is imported."""

    def __init__(self) -> None:
        self._book: TariffBook | None = None
        self._lock = threading.Lock()

    def current(self, session: Session) -> TariffBook:
        latest = store.latest_tariff_version(session)
        if latest is None:
            raise NoTariffError("no tariff book imported")
        with self._lock:
            if self._book is None or self._book.version_id != latest:
                self._book = store.load_tariff_book(session, latest)
            return self._book


@dataclass(frozen=True, slots=True)
class Policies:
    """The configurable parts of pricing, read from settings once per process."""

    copay: CopayPolicy
    review: ReviewPolicy
    # The patient's share of a self-referred visit where the referral programme applies.
    self_referral_copay: Decimal = Decimal("1.00")
    # The filing window of the date rules, and the day they take as today when it is fixed.
    filing_window_days: int = 90
    clock_date: date | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Policies:
        return cls(
            copay=CopayPolicy(
                outpatient=settings.copay_outpatient,
                inpatient=settings.copay_inpatient,
                owned_outpatient=settings.copay_owned_outpatient,
                owned_inpatient=settings.copay_owned_inpatient,
            ),
            review=ReviewPolicy(
                amount_threshold=settings.review_amount_threshold,
                deduction_share=settings.review_deduction_share,
                sample_percent=settings.review_sample_percent,
                seed=settings.review_seed,
            ),
            self_referral_copay=settings.referral_self_copay,
            filing_window_days=settings.submission_window_days,
            clock_date=settings.clock_date,
        )


@dataclass(slots=True)
class _Batch:
    """What the locked documents need, read before pricing starts."""

    documents: list[store.DocumentToPrice]  # in the order they are priced
    centres: dict[int, CentreInfo]
    lines: dict[uuid.UUID, tuple[list[int], list[Line]]]
    coverage: dict[str, list[Coverage]]
    billed: dict[str, list[store.BilledLine]]  # per patient: lines of their live bills
    rollout: Rollout = NO_ROLLOUT  # the referral programme's
    referred: set[uuid.UUID] = field(default_factory=set)  # documents holding a referral visit


@dataclass(frozen=True, slots=True)
class _Priced:
    document: store.DocumentToPrice
    line_ids: list[int]
    price: DocumentPrice
    decision: ReviewDecision | None  # None: an estimate, not reviewed


def price_stored_documents(
    *, session: Session, ids: Sequence[uuid.UUID], books: TariffCache, policies: Policies
) -> dict[str, int]:
    """Price those of the documents that await pricing, in the order given, then approve
    each or send it to review; the others are skipped (a redelivered task changes
    nothing; a document voided while it waited is never priced). Returns how many documents
    were "priced", "already-done", "voided" or "missing"."""
    began = time.perf_counter()
    with _collector_paused():
        outcomes = _price_batch(session, list(dict.fromkeys(ids)), books, policies)
    if outcomes.get("priced"):
        metrics.PRICING_DURATION.observe(time.perf_counter() - began)
    for outcome, count in outcomes.items():
        metrics.PRICING.labels(outcome).inc(count)
    return outcomes


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A batch holds hundreds of thousands of young objects (lines, prices, rows) until it
    is stored; the cyclic collector would walk them again and again (a fifth of the time
    in the benchmark). Pricing makes no reference cycles, so reference counting frees
    the batch; the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _price_batch(
    session: Session, wanted: list[uuid.UUID], books: TariffCache, policies: Policies
) -> dict[str, int]:
    locked = store.lock_accepted(session, wanted)
    outcomes: Counter[str] = Counter()
    if len(locked) < len(wanted):
        others = set(wanted) - {document.id for document in locked}
        found = store.statuses(session, others).values()
        voided = sum(status == DocumentStatus.VOIDED for status in found)
        outcomes.update(
            {
                "already-done": len(found) - voided,
                "voided": voided,
                "missing": len(others) - len(found),
            }
        )
    if locked:
        book = books.current(session)
        order = {document_id: n for n, document_id in enumerate(wanted)}
        locked.sort(key=lambda document: order[document.id])
        outcomes["priced"] = _price_and_store(session, _read(session, locked), book, policies)
    return {outcome: count for outcome, count in outcomes.items() if count}


def price_stored_document(
    *, session: Session, document_id: uuid.UUID, books: TariffCache, policies: Policies
) -> str:
    """Price one document as a batch of one: "priced", "already-done", "voided" or
    "missing"."""
    (outcome,) = price_stored_documents(
        session=session, ids=[document_id], books=books, policies=policies
    )
    return outcome


def _read(session: Session, documents: list[store.DocumentToPrice]) -> _Batch:
    lines = store.lines_of(session, [document.id for document in documents])
    wanted: dict[str, set[tuple[str, date]]] = {}
    for document in documents:
        keys = wanted.setdefault(document.patient_national_id, set())
        keys.update((line.code, line.service_date) for line in lines.get(document.id, ([], []))[1])
    return _Batch(
        documents=documents,
        centres=store.centres(session, {document.centre_id for document in documents}),
        lines=lines,
        coverage=repository.coverages_of(session, wanted),
        billed=store.billed_services(session, wanted),
        rollout=referrals.rollout(session=session),
        referred=referrals.holding_visits(session=session, ids=[d.id for d in documents]),
    )


def _price_and_store(session: Session, batch: _Batch, book: TariffBook, policies: Policies) -> int:
    """Price the batch while its line rows stream to the database, then write the rest."""
    at = utcnow()
    # No earlier result to clear: a document is priced only while ACCEPTED, and its rows
    # are written in the transaction that moves it on (nothing moves a document back).
    # A line priced twice would break line_pricings' unique line_id, not double a row.
    priced: list[_Priced] = []
    # The rows are a generator that prices each document as the COPY asks for its rows:
    # PostgreSQL stores one document's rows while the next one is priced.
    store.add_line_pricings(session, _pricing_rows(_price_each(batch, book, policies), priced))
    store.add_line_deductions(session, _deduction_rows(priced))
    moves: list[journal.Move] = []
    documents: list[store.PricedDocument] = []
    criteria: Counter[str] = Counter()
    for p in priced:
        made = _moves(p, at)
        moves += [
            journal.Move(p.document.id, p.document.centre_id, p.document.external_id, move)
            for move in made
        ]
        documents.append(_priced_document(p, made[-1], at))
        if p.decision is not None:
            criteria[p.decision.criterion] += 1
    store.update_priced(session, documents, at)
    # Last before the commit: the journal locks the audit chain's head until then, and
    # other workers and the API wait for it. Webhook messages stay in the outbox for the
    # relay: a worker has no publisher.
    journal.record(session, moves)
    # The patient shares of the approved documents pass to their further payers in this
    # same transaction (one query when none of the patients has any). After the journal,
    # as in an auditor's decision: the audit head, then the ledger, in every transaction.
    payers.split_approved(
        session,
        document_ids=[d.id for d in documents if d.status == DocumentStatus.APPROVED],
        actor=REVIEW_ACTOR,
    )
    for criterion, count in criteria.items():
        metrics.PRICING_ROUTED.labels(criterion).inc(count)
    return len(priced)


def _price_each(batch: _Batch, book: TariffBook, policies: Policies) -> Iterator[_Priced]:
    for document in batch.documents:
        line_ids, lines = batch.lines.get(document.id, ([], []))
        centre = batch.centres[document.centre_id]
        patient = document.patient_national_id
        estimate = document.purpose != Purpose.CLAIM
        request = PricingRequest(
            centre=centre,
            setting=DocumentKind(document.kind).setting,
            lines=lines,
            grade=Grade(document.physician_grade) if document.physician_grade else None,
            referral_code=document.referral_code,
            referral_mandatory=batch.rollout.in_programme(
                centre.province, centre.kind, document.service_date
            ),
            self_referral_rate=_self_referral_rate(document, centre, lines, book, batch, policies),
            emergency=document.emergency,
            coverage=batch.coverage.get(patient, []),
            package_code=document.package_code,
            package_date=document.admission_date or document.service_date,
            billed_earlier=billed_earlier(document, batch.billed.get(patient, ())),
            insurance_number=document.insurance_number,
            filed_on=policies.clock_date or utc_day(document.received_at),
            # An estimate is asked before or during care: no filing window applies.
            filing_deadline=None
            if estimate
            else period_of_care(
                document.service_date, document.admission_date, document.discharge_date
            )[1]
            + timedelta(days=policies.filing_window_days),
        )
        price = price_document(request, book, policies.copay)
        if estimate:  # answered as priced; never reviewed, approved or settled
            yield _Priced(document, line_ids, price, None)
            continue
        decision = decide(
            price,
            centre_code=centre.code,
            month=document.service_date.strftime("%Y-%m"),
            document_number=document.external_id,
            policy=policies.review,
        )
        yield _Priced(document, line_ids, price, decision)


def billed_earlier(
    document: store.DocumentToPrice, billed: Iterable[store.BilledLine]
) -> dict[tuple[str, date], str]:
    """The (code, date) pairs that bills received before this document list, each naming
    the earliest of them. Received before: by the submission's receipt time, then its id,
    then the document's place in it; a stable order, so that which of two documents
    repeating a service is the duplicate does not depend on which is priced first."""
    rank = document.rank
    earliest: dict[tuple[str, date], store.BilledLine] = {}
    for line in billed:
        key = (line.code, line.service_date)
        if line.rank < rank and (key not in earliest or line.rank < earliest[key].rank):
            earliest[key] = line
    return {key: _bill_words(document, line) for key, line in earliest.items()}


def _bill_words(document: store.DocumentToPrice, line: store.BilledLine) -> str:
    # A centre reads its own deductions: another centre's document number is not its to
    # read, the gateway's id of that document (for the auditor) tells it nothing.
    if line.centre_id == document.centre_id:
        return f"document {line.external_id} of this centre"
    return f"document {line.document_id} of another centre"


def _priced_document(priced: _Priced, decided: Transition, at: datetime) -> store.PricedDocument:
    price = priced.price
    return store.PricedDocument(
        id=priced.document.id,
        status=decided.to_status.value,
        review_reason=None if priced.decision is None else decided.reason,
        pricing_notes=price.notes or None,
        tariff_version_id=price.tariff_version_id,
        eligible_amount=price.eligible,
        deduction_amount=price.deducted,
        copayment_amount=price.copayment,
        insurer_amount=price.insurer_share,
        decided_at=at if decided.to_status is DocumentStatus.APPROVED else None,
    )


def _moves(priced: _Priced, at: datetime) -> tuple[Transition, ...]:
    """ACCEPTED -> PRICED, then the review decision; an estimate stays PRICED."""
    decision = priced.decision
    first = transition(
        DocumentStatus.ACCEPTED,
        DocumentStatus.PRICED,
        actor=ACTOR,
        reason=f"priced with tariff version {priced.price.tariff_version_id}"
        + (" (an estimate, not a bill)" if decision is None else ""),
        at=at,
    )
    if decision is None:
        return (first,)
    second = transition(
        DocumentStatus.PRICED,
        DocumentStatus.UNDER_REVIEW if decision.review else DocumentStatus.APPROVED,
        actor=REVIEW_ACTOR,
        reason=f"{decision.criterion}: {decision.reason}",
        at=at,
    )
    return first, second


def _self_referral_rate(
    document: store.DocumentToPrice,
    centre: CentreInfo,
    lines: list[Line],
    book: TariffBook,
    batch: _Batch,
    policies: Policies,
) -> Decimal | None:
    """The self-referral policy's co-payment rate when the document is a self-referred
    visit that needs a referral and holds none; else None."""
    if not document.self_referred or document.id in batch.referred:
        return None
    level = required_level(
        batch.rollout,
        province=centre.province,
        centre_kind=centre.kind,
        on=document.service_date,
        grade=document.physician_grade or "general",
        is_visit=document.kind == DocumentKind.OUTPATIENT_VISIT,
        needs_referral=any(
            (item := book.item(line.code, line.service_date)) is not None and item.referral_required
            for line in lines
        ),
        emergency=document.emergency,
    )
    return None if level is None else policies.self_referral_copay


def _pricing_rows(
    results: Iterator[_Priced], priced: list[_Priced]
) -> Iterator[tuple[object, ...]]:
    """Line pricing rows laid out as ``store.PRICING_COLUMNS``; keeps each result."""
    for p in results:
        priced.append(p)
        document_id, version = p.document.id, p.price.tariff_version_id
        for line_id, line in zip(p.line_ids, p.price.lines, strict=True):
            unit = line.unit
            yield (
                line_id,
                document_id,
                version,
                line.requested,
                line.tariff_unit_price,
                line.eligible,
                line.deducted,
                line.copayment,
                line.insurer_share,
                None if unit is None else unit.basis,
                _terms_json(unit),
                line.allowed_quantity,
                line.copay_rate,
                line.explanation,
                line.copay_reason,
            )


def _deduction_rows(priced: list[_Priced]) -> Iterator[tuple[object, ...]]:
    """Deduction rows laid out as ``store.DEDUCTION_COLUMNS``; counts the rials deducted."""
    totals: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for p in priced:
        for line_id, line in zip(p.line_ids, p.price.lines, strict=True):
            for deduction in line.deductions:
                totals[deduction.reason.value] += deduction.amount
                counts[deduction.reason.value] += 1
                yield (
                    line_id,
                    p.document.id,
                    deduction.reason.value,
                    deduction.amount,
                    deduction.detail,
                )
    for reason, amount in totals.items():
        metrics.DEDUCTIONS.labels(reason).inc(amount)
        metrics.DEDUCTION_COUNT.labels(reason).inc(counts[reason])


_JSON_NULL = json.dumps(None)


def _terms_json(unit: UnitPrice | None) -> str:
    """The unit's terms as the JSON column stores them (``null`` when it has none)."""
    if unit is None or not unit.terms:
        return _JSON_NULL
    return _terms_text(unit)


def _encode_terms(unit: UnitPrice) -> str:
    return json.dumps(
        [
            {"component": t.component.value, "units": f"{t.units.normalize():f}", "k": t.k}
            for t in unit.terms
        ]
    )


# Units are shared by the lines they price (see unit_price_in_force): so is their JSON.
_terms_text = ByIdentity(_encode_terms)
