"""Pricing a stored document: load, price with the pure engine, store the result."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.domain.documents import CodeType, DocumentKind, Line
from gateway.domain.lifecycle import DocumentStatus, transition
from gateway.domain.tariff import Grade, TariffBook
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Document, LineDeduction, LinePricing, utcnow
from workers.pricing.engine import (
    CopayPolicy,
    DocumentPrice,
    LinePrice,
    PricingRequest,
    price_document,
)
from workers.pricing.review import ReviewDecision, ReviewPolicy, decide

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
        latest = repository.latest_tariff_version(session)
        if latest is None:
            raise NoTariffError("no tariff book imported")
        with self._lock:
            if self._book is None or self._book.version_id != latest:
                self._book = repository.load_tariff_book(session, latest)
            return self._book


@dataclass(frozen=True, slots=True)
class Policies:
    """The configurable parts of pricing, read from settings once per process."""

    copay: CopayPolicy
    review: ReviewPolicy
    referral_provinces: frozenset[str]

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
            referral_provinces=frozenset(settings.referral_provinces),
        )


def pricing_request(session: Session, document: Document, policies: Policies) -> PricingRequest:
    """What pricing needs about a stored document, read from the database."""
    centre = repository.centre_info(document.centre)
    lines = [
        Line(
            code_type=CodeType(row.code_type),
            code=row.code,
            quantity=row.quantity,
            unit_price=row.unit_price,
            amount=row.amount,
            service_date=row.service_date,
        )
        for row in document.lines
    ]
    coverage = repository.coverages_of(session, [document.patient_national_id])
    paid = repository.paid_services(
        session,
        document.patient_national_id,
        {(line.code, line.service_date) for line in lines},
        exclude=document.id,
    )
    return PricingRequest(
        centre=centre,
        setting=DocumentKind(document.kind).setting,
        lines=lines,
        grade=Grade(document.physician_grade) if document.physician_grade else None,
        referral_code=document.referral_code,
        referral_mandatory=centre.province in policies.referral_provinces,
        coverage=coverage.get(document.patient_national_id, []),
        package_code=document.package_code,
        package_date=document.admission_date or document.service_date,
        paid_elsewhere=frozenset(paid),
    )


def price_stored_document(
    *, session: Session, document_id: uuid.UUID, books: TariffCache, policies: Policies
) -> str:
    """Price one document if it awaits pricing, then approve it or send it to review;
    anything else is a no-op (a redelivered task)."""
    began = time.perf_counter()
    document = repository.lock_document(session, document_id)
    if document is None:
        outcome = "missing"
    elif document.status != DocumentStatus.ACCEPTED:
        outcome = "already-done"
    else:
        request = pricing_request(session, document, policies)
        price = price_document(request, books.current(session), policies.copay)
        decision = decide(
            price,
            centre_code=document.centre.code,
            month=document.service_date.strftime("%Y-%m"),
            document_number=document.external_id,
            policy=policies.review,
        )
        _store_price(session, document, price, decision)
        outcome = "priced"
        metrics.REVIEW_DECISIONS.labels(decision.criterion).inc()
        metrics.PRICING_DURATION.observe(time.perf_counter() - began)
    metrics.PRICING.labels(outcome).inc()
    return outcome


def _terms(line: LinePrice) -> list[dict[str, object]] | None:
    if line.unit is None or not line.unit.terms:
        return None
    return [
        {"component": t.component.value, "units": f"{t.units.normalize():f}", "k": t.k}
        for t in line.unit.terms
    ]


def _store_price(
    session: Session, document: Document, price: DocumentPrice, decision: ReviewDecision
) -> None:
    repository.clear_pricing(session, document.id)
    for row, line in zip(document.lines, price.lines, strict=True):
        session.add(
            LinePricing(
                line_id=row.id,
                document_id=document.id,
                tariff_version_id=price.tariff_version_id,
                requested_amount=line.requested,
                tariff_unit_price=line.tariff_unit_price,
                eligible_amount=line.eligible,
                deduction_amount=line.deducted,
                copayment_amount=line.copayment,
                insurer_amount=line.insurer_share,
                basis=line.unit.basis if line.unit else None,
                terms=_terms(line),
                allowed_quantity=line.allowed_quantity,
                copay_rate=line.copay_rate,
                explanation=line.explanation,
            )
        )
        for deduction in line.deductions:
            metrics.DEDUCTIONS.labels(deduction.reason.value).inc(deduction.amount)
            session.add(
                LineDeduction(
                    line_id=row.id,
                    document_id=document.id,
                    reason=deduction.reason.value,
                    amount=deduction.amount,
                    detail=deduction.detail,
                )
            )
    priced = transition(
        DocumentStatus(document.status),
        DocumentStatus.PRICED,
        actor=ACTOR,
        reason=f"priced with tariff version {price.tariff_version_id}",
    )
    target = DocumentStatus.UNDER_REVIEW if decision.review else DocumentStatus.APPROVED
    decided = transition(
        priced.to_status,
        target,
        actor=REVIEW_ACTOR,
        reason=f"{decision.criterion}: {decision.reason}",
    )
    document.status = decided.to_status.value
    document.review_reason = decided.reason
    document.pricing_notes = price.notes or None
    document.tariff_version_id = price.tariff_version_id
    document.eligible_amount = price.eligible
    document.deduction_amount = price.deducted
    document.copayment_amount = price.copayment
    document.insurer_amount = price.insurer_share
    document.priced_at = document.updated_at = utcnow()
    session.add(repository.status_event(document.id, priced))
    session.add(repository.status_event(document.id, decided))
