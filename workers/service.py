"""Pricing a stored document: load, price with the pure engine, store the result."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CodeType, DocumentKind, Line
from gateway.domain.lifecycle import DocumentStatus, transition
from gateway.domain.tariff import TariffBook
from gateway.storage import repository
from gateway.storage.models import Document, LineDeduction, LinePricing, utcnow
from workers.pricing.engine import CopayPolicy, DocumentPrice, PricingRequest, price_document

ACTOR = "worker:pricing"


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


def pricing_request(document: Document) -> PricingRequest:
    return PricingRequest(
        centre_kind=CentreKind(document.centre.kind),
        sector=Sector(document.centre.sector),
        setting=DocumentKind(document.kind).setting,
        lines=[
            Line(
                code_type=CodeType(row.code_type),
                code=row.code,
                quantity=row.quantity,
                unit_price=row.unit_price,
                amount=row.amount,
                service_date=row.service_date,
            )
            for row in document.lines
        ],
    )


def price_stored_document(
    *, session: Session, document_id: uuid.UUID, books: TariffCache, policy: CopayPolicy
) -> str:
    """Price one document if it awaits pricing; anything else is a no-op (redelivery)."""
    began = time.perf_counter()
    document = repository.lock_document(session, document_id)
    if document is None:
        outcome = "missing"
    elif document.status != DocumentStatus.ACCEPTED:
        outcome = "already-done"
    else:
        price = price_document(pricing_request(document), books.current(session), policy)
        _store_price(session, document, price)
        outcome = "priced"
        metrics.PRICING_DURATION.observe(time.perf_counter() - began)
    metrics.PRICING.labels(outcome).inc()
    return outcome


def _store_price(session: Session, document: Document, price: DocumentPrice) -> None:
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
    move = transition(
        DocumentStatus(document.status),
        DocumentStatus.PRICED,
        actor=ACTOR,
        reason=f"priced with tariff version {price.tariff_version_id}",
    )
    document.status = move.to_status.value
    document.tariff_version_id = price.tariff_version_id
    document.eligible_amount = price.eligible
    document.deduction_amount = price.deducted
    document.copayment_amount = price.copayment
    document.insurer_amount = price.insurer_share
    document.priced_at = document.updated_at = utcnow()
    session.add(repository.status_event(document.id, move))
