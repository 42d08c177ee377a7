"""Monthly settlement: close a period into payment orders, mark them paid, and read each
order's remittance statement (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gateway.audit import reads
from gateway.domain.bounds import RowId
from gateway.kit.deps import Caller, Finance, Principal, ReadSession, State, WriteSession
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors
from gateway.schemas import ReasonTotalOut, RemittanceTotalsOut
from gateway.settings import today
from gateway.settlement import service as settlement
from gateway.storage.models import Centre, PaymentOrder

router = APIRouter(prefix="/v1", tags=["settlement"])
CLOSE_ERRORS = errors(
    *AUTHENTICATED, 400, 403, 409, 422,
    c409="The period is already closed",
    said={**BAD_JSON, 403: "This needs a token of role finance, admin.",
          409: "Period 2026-10 is already closed.",
          422: ("request.invalid", "Period 2026-12 has not begun; it cannot be closed yet.")},
)  # fmt: skip
PAID_ERRORS = errors(
    *AUTHENTICATED, 400, 403, 404, 409, 422,
    c409="The order is already paid",
    said={**BAD_JSON, 403: "This needs a token of role finance, admin.",
          404: "Payment order not found.", 409: "Payment order 12 is already paid."},
)  # fmt: skip
ORDER_ERRORS = errors(*AUTHENTICATED, 404, 422)


PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


class CentreOut(BaseModel):
    code: str
    name: str


class PaymentOrderOut(BaseModel):
    id: int
    centre: CentreOut
    period: str
    status: Literal["ordered", "paid"] = Field(description="ordered, then paid")
    documents: int
    totals: RemittanceTotalsOut
    deductions_by_reason: list[ReasonTotalOut]
    closed_at: str
    closed_by: str
    paid_at: str | None
    payment_reference: str | None
    fund_amount: int = Field(
        description="what the charity fund pays the centre for its patients' shares: "
        "its own line, paid with the order (docs/payers.md)"
    )


class CloseIn(BaseModel):
    period: str = Field(pattern=PERIOD, examples=["2026-10"])


class ClosedOut(BaseModel):
    period: str
    orders: list[PaymentOrderOut]


class PaidIn(BaseModel):
    reference: str = Field(min_length=1, max_length=60, examples=["SATNA-1405-0815-2291"])


class StatementOut(BaseModel):
    order: PaymentOrderOut
    lines: list[dict[str, Any]]


def _out(session: Any, order: PaymentOrder) -> PaymentOrderOut:
    centre = session.get_one(Centre, order.centre_id)
    return PaymentOrderOut.model_validate(settlement.order_json(order, centre))


@router.post(
    "/settlements",
    status_code=201,
    response_model=ClosedOut,
    responses=CLOSE_ERRORS,
    summary="Close a month: one payment order per centre of its approved documents (finance)",
)
def close(body: CloseIn, caller: Finance, session: WriteSession, state: State) -> ClosedOut:
    closed = settlement.close_period(
        session, period=body.period, actor=caller.actor, today=today(state.settings)
    )
    return ClosedOut(period=closed.period, orders=[_out(session, o) for o in closed.orders])


@router.get(
    "/settlements",
    response_model=list[PaymentOrderOut],
    responses=errors(*AUTHENTICATED, 422),
    summary="Payment orders, newest period first (a centre sees its own)",
)
def list_orders(
    caller: Caller,
    session: ReadSession,
    period: Annotated[str | None, Query(pattern=PERIOD, examples=["2026-10"])] = None,
) -> list[PaymentOrderOut]:
    orders = settlement.list_orders(session, period=period, centre_scope=caller.centre_scope)
    return [_out(session, o) for o in orders]


@router.get(
    "/settlements/{order_id}",
    response_model=StatementOut,
    responses=ORDER_ERRORS,
    summary="A payment order with its remittance statement: every document line and deduction",
)
def statement(order_id: RowId, caller: Caller, session: WriteSession) -> StatementOut:
    order = settlement.get_order(session, order_id, caller.centre_scope)
    out = StatementOut(order=_out(session, order), lines=settlement.statement_rows(session, order))
    _record_statement(session, caller, "GET /v1/settlements/{id}", order)
    return out


@router.get(
    "/settlements/{order_id}/statement.csv",
    responses={**ORDER_ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="The remittance statement as CSV",
)
def statement_csv(order_id: RowId, caller: Caller, session: WriteSession) -> Response:
    order = settlement.get_order(session, order_id, caller.centre_scope)
    text = settlement.statement_csv(settlement.statement_rows(session, order))
    _record_statement(session, caller, "GET /v1/settlements/{id}/statement.csv", order)
    name = f"remittance-{order.period}-{order.id}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _record_statement(session: Session, caller: Principal, route: str, order: PaymentOrder) -> None:
    scope = reads.Scope(reads.ORDER, str(order.id), order.documents)
    reads.record_read(session, caller, route, scope=scope)


@router.post(
    "/settlements/{order_id}/paid",
    response_model=PaymentOrderOut,
    responses=PAID_ERRORS,
    summary="Record the payment of an order; its documents become PAID (finance)",
)
def mark_paid(
    order_id: RowId, body: PaidIn, caller: Finance, session: WriteSession
) -> PaymentOrderOut:
    order = settlement.mark_paid(
        session, order_id=order_id, reference=body.reference, actor=caller.actor
    )
    return _out(session, order)
