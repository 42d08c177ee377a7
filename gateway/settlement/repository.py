"""The SQL of settlement: periods, payment orders and the documents they gather.
Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain.documents import Purpose
from gateway.domain.lifecycle import DocumentStatus
from gateway.storage.models import (
    Centre,
    Document,
    LineDeduction,
    PaymentOrder,
    SettlementPeriod,
)

IN_CHUNK = 500  # ids in one IN (...) list


def is_closed(session: Session, period: str) -> bool:
    return session.get(SettlementPeriod, period) is not None


def add_period(session: Session, *, period: str, actor: str) -> None:
    """Flushed at once: a unique-key error means another close took the period first."""
    session.add(SettlementPeriod(period=period, closed_by=actor))
    session.flush()


def lock_payable(session: Session, end: date) -> list[Document]:
    """APPROVED documents in no order, served on or before ``end``, locked, in the order
    the orders list them."""
    return list(
        session.scalars(
            select(Document)
            .where(
                Document.status == DocumentStatus.APPROVED,
                Document.purpose == Purpose.CLAIM.value,  # an estimate is never paid
                Document.payment_order_id.is_(None),
                Document.service_date <= end,
            )
            .order_by(Document.centre_id, Document.service_date, Document.external_id)
            .with_for_update()
        )
    )


def add_order(session: Session, order: PaymentOrder) -> None:
    """Flushed at once, so the order has its id for the documents' history."""
    session.add(order)
    session.flush()


def deductions_by_document(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, int]]]:
    """Each document's deductions as (reason, amount)."""
    out: dict[uuid.UUID, list[tuple[str, int]]] = defaultdict(list)
    for start in range(0, len(ids), IN_CHUNK):
        query = select(LineDeduction.document_id, LineDeduction.reason, LineDeduction.amount).where(
            LineDeduction.document_id.in_(ids[start : start + IN_CHUNK])
        )
        for document_id, reason, amount in session.execute(query):
            out[document_id].append((reason, int(amount)))
    return out


def get_order(session: Session, order_id: int) -> PaymentOrder | None:
    return session.get(PaymentOrder, order_id)


def lock_order(session: Session, order_id: int) -> PaymentOrder | None:
    return session.scalars(
        select(PaymentOrder).where(PaymentOrder.id == order_id).with_for_update()
    ).one_or_none()


def lock_documents_of(session: Session, order_id: int) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(Document.payment_order_id == order_id).with_for_update()
        )
    )


def orders(session: Session, *, period: str | None, centre_id: int | None) -> list[PaymentOrder]:
    """Newest period first; within a period, by id."""
    query = select(PaymentOrder).order_by(PaymentOrder.period.desc(), PaymentOrder.id)
    if period is not None:
        query = query.where(PaymentOrder.period == period)
    if centre_id is not None:
        query = query.where(PaymentOrder.centre_id == centre_id)
    return list(session.scalars(query))


def payable_by_centre(session: Session, end: date) -> list[tuple[str, int, int, int, int]]:
    """What closing a period ending ``end`` would gather, per centre: code, documents,
    requested, eligible and insurer share (the rows ``lock_payable`` takes, unlocked)."""
    query = (
        select(
            Centre.code,
            func.count(),
            func.coalesce(func.sum(Document.requested_amount), 0),
            func.coalesce(func.sum(Document.eligible_amount), 0),
            func.coalesce(func.sum(Document.insurer_amount), 0),
        )
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Document.status == DocumentStatus.APPROVED,
            Document.purpose == Purpose.CLAIM.value,
            Document.payment_order_id.is_(None),
            Document.service_date <= end,
        )
        .group_by(Centre.code)
        .order_by(Centre.code)
    )
    return [
        (str(code), int(count), int(requested or 0), int(eligible or 0), int(insurer or 0))
        for code, count, requested, eligible, insurer in session.execute(query)
    ]
