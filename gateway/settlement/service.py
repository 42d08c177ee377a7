"""Monthly settlement: approved documents gathered into one payment order per centre, then
marked paid; and each order's remittance statement.

Closing period P gathers every APPROVED document, not yet in an order, whose service date
is on or before the last day of P: a document approved after its month was closed (a late
one) is gathered by the next close. A period is closed once (a second close is a 409).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.audit import journal
from gateway.documents.view import (
    Computation,
    Deduction,
    DocumentView,
    sum_by_reason,
    views_where,
)
from gateway.domain.lifecycle import DocumentStatus, transition
from gateway.errors import GatewayError, NotFoundError
from gateway.kit.periods import period_end
from gateway.payers import service as payers
from gateway.settlement import repository as store
from gateway.storage.models import (
    Centre,
    Document,
    PaymentOrder,
    utcnow,
)

S = DocumentStatus


@dataclass(frozen=True, slots=True)
class Closed:
    period: str
    orders: list[PaymentOrder]


@dataclass(frozen=True, slots=True)
class CentreDue:
    code: str
    documents: int
    requested: int
    eligible: int
    insurer_share: int


def _not_begun(period: str) -> GatewayError:
    return GatewayError(
        f"Period {period} has not begun; it cannot be closed yet.",
        422,
        code="settlement.period-not-begun",
        params={"period": period},
    )


def _closed(period: str) -> GatewayError:
    return GatewayError(
        f"Period {period} is already closed.",
        409,
        code="settlement.period-closed",
        params={"period": period},
    )


def preview_close(session: Session, *, period: str, today: date) -> list[CentreDue]:
    """What closing ``period`` would order, per centre, without closing it; the same
    refusals as closing (a period not begun, or closed already)."""
    end = period_end(period)
    if (end.year, end.month) > (today.year, today.month):
        raise _not_begun(period)
    if store.is_closed(session, period):
        raise _closed(period)
    return [CentreDue(*row) for row in store.payable_by_centre(session, end)]


def close_period(session: Session, *, period: str, actor: str, today: date) -> Closed:
    end = period_end(period)
    if (end.year, end.month) > (today.year, today.month):
        raise _not_begun(period)
    if store.is_closed(session, period):
        raise _closed(period)
    try:
        store.add_period(session, period=period, actor=actor)
    except IntegrityError:  # closed at the same moment by someone else
        raise _closed(period) from None
    documents = store.lock_payable(session, end)
    by_centre: dict[int, list[Document]] = defaultdict(list)
    for document in documents:
        by_centre[document.centre_id].append(document)
    reasons = store.deductions_by_document(session, [d.id for d in documents])
    # The charity fund pays its share of the patients' shares on the order's own line.
    fund = payers.fund_shares(session, [d.id for d in documents])
    orders = []
    for centre_id, group in by_centre.items():
        by_reason = sum_by_reason(
            pair for document in group for pair in reasons.get(document.id, [])
        )
        order = PaymentOrder(
            centre_id=centre_id,
            period=period,
            status="ordered",
            documents=len(group),
            requested_amount=sum(d.requested_amount for d in group),
            eligible_amount=sum(d.eligible_amount or 0 for d in group),
            deduction_amount=sum(d.deduction_amount or 0 for d in group),
            deductions_by_reason={r.reason: r.amount for r in by_reason},
            copayment_amount=sum(d.copayment_amount or 0 for d in group),
            insurer_amount=sum(d.insurer_amount or 0 for d in group),
            fund_amount=sum(fund.get(d.id, 0) for d in group),
            closed_by=actor,
        )
        store.add_order(session, order)
        orders.append(order)
        _move_all(session, group, S.PAYMENT_ORDERED, actor, f"payment order {order.id} ({period})")
        for document in group:
            document.payment_order_id = order.id
    audit.append(
        session,
        [
            audit.Record(
                actor=actor,
                action="settlement.close",
                subject_type="period",
                subject_id=period,
                details={
                    "orders": [
                        {
                            "id": o.id,
                            "centre_id": o.centre_id,
                            "insurer": o.insurer_amount,
                            "fund": o.fund_amount,
                        }
                        for o in orders
                    ],
                    "documents": len(documents),
                },
            )
        ],
    )
    return Closed(period, orders)


def _move_all(
    session: Session, documents: list[Document], target: DocumentStatus, actor: str, reason: str
) -> None:
    moves = []
    for document in documents:
        move = transition(S(document.status), target, actor=actor, reason=reason)
        document.status = target.value
        document.updated_at = move.at
        moves.append(journal.Move(document.id, document.centre_id, document.external_id, move))
    journal.record(session, moves)


def get_order(session: Session, order_id: int, centre_scope: int | None) -> PaymentOrder:
    order = store.get_order(session, order_id)
    if order is None or (centre_scope is not None and order.centre_id != centre_scope):
        raise NotFoundError("Payment order", code="settlement.no-order")
    return order


def list_orders(
    session: Session, *, period: str | None, centre_scope: int | None
) -> list[PaymentOrder]:
    if period is not None:
        period_end(period)  # refuses a malformed period (422)
    return store.orders(session, period=period, centre_id=centre_scope)


def mark_paid(session: Session, *, order_id: int, reference: str, actor: str) -> PaymentOrder:
    if not reference.strip():
        raise GatewayError(
            "A payment reference is required.", 422, code="settlement.reference-missing"
        )
    order = store.lock_order(session, order_id)
    if order is None:
        raise NotFoundError("Payment order", code="settlement.no-order")
    if order.status == "paid":
        raise GatewayError(
            f"Payment order {order_id} is already paid (reference {order.payment_reference}).",
            409,
            code="settlement.order-paid",
            params={"order": order_id, "reference": order.payment_reference or ""},
        )
    documents = store.lock_documents_of(session, order.id)
    _move_all(session, documents, S.PAID, actor, f"paid under reference {reference}")
    order.status = "paid"
    order.paid_at = utcnow()
    order.payment_reference = reference.strip()
    if order.fund_amount:
        payers.pay_fund_share(
            session,
            order_id=order.id,
            centre=session.get_one(Centre, order.centre_id).code,
            amount=order.fund_amount,
            actor=actor,
        )
    audit.append(
        session,
        [
            audit.Record(
                actor=actor,
                action="settlement.paid",
                subject_type="payment_order",
                subject_id=str(order.id),
                details={"reference": order.payment_reference, "documents": len(documents)},
            )
        ],
    )
    return order


def order_json(order: PaymentOrder, centre: Centre) -> dict[str, Any]:
    return {
        "id": order.id,
        "centre": {"code": centre.code, "name": centre.name},
        "period": order.period,
        "status": order.status,
        "documents": order.documents,
        "totals": {
            "requested": order.requested_amount,
            "eligible": order.eligible_amount,
            "deducted": order.deduction_amount,
            "copayment": order.copayment_amount,
            "insurer_share": order.insurer_amount,
        },
        "deductions_by_reason": [
            {"reason": r, "amount": a} for r, a in sorted(order.deductions_by_reason.items())
        ],
        "closed_at": order.closed_at.isoformat(),
        "closed_by": order.closed_by,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "payment_reference": order.payment_reference,
        "fund_amount": order.fund_amount,
    }


STATEMENT_COLUMNS = (
    "document_id", "external_id", "kind", "service_date", "patient_national_id",
    "line_no", "code_type", "code", "requested", "eligible", "deduction_reason",
    "deduction_amount", "deduction_detail", "copayment", "insurer_share",
    "supplementary_share", "fund_share", "patient_pays",
)  # fmt: skip


def statement_documents(session: Session, order: PaymentOrder) -> list[DocumentView]:
    """The order's documents as every reader shows them (by service date, then number)."""
    return views_where(session, Document.payment_order_id == order.id, history=False)


def statement_rows(session: Session, order: PaymentOrder) -> list[dict[str, Any]]:
    """Every line of every document of the order, one row per deduction (or one row for a
    line paid in full), from the documents' views."""
    rows = []
    for view in statement_documents(session, order):
        for line, computation in view.priced_lines():
            base = {
                "document_id": str(view.id),
                "external_id": view.external_id,
                "kind": view.kind,
                "service_date": line.service_date.isoformat(),
                "patient_national_id": view.patient_national_id,
                "line_no": line.line_no,
                "code_type": line.code_type,
                "code": line.code,
                "requested": computation.requested,
                "eligible": computation.eligible,
                "copayment": computation.copayment,
                "insurer_share": computation.insurer_share,
                "supplementary_share": _paid_by(computation, "supplementary"),
                "fund_share": _paid_by(computation, "fund"),
                "patient_pays": computation.patient_pays,
            }
            found: list[Deduction | None] = [*computation.deductions] or [None]
            rows += [
                {
                    **base,
                    "deduction_reason": deduction.reason if deduction else "",
                    "deduction_amount": deduction.amount if deduction else 0,
                    "deduction_detail": deduction.detail if deduction else "",
                }
                for deduction in found
            ]
    return rows


def _paid_by(computation: Computation, kind: str) -> int:
    return sum(p.amount for p in computation.payers if p.kind == kind)


def statement_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STATEMENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
