"""The settlement view: payment orders per period and centre, closing a period, marking an
order paid, and each order's statement as a page and as CSV (finance and admins)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.audit import reads
from gateway.domain.bounds import RowId
from gateway.errors import GatewayError
from gateway.kit.deps import ReadSession, WriteSession
from gateway.settings import today
from gateway.settlement import service as settlement
from gateway.storage import repository
from gateway.storage.models import Centre, PaymentOrder
from gateway.web import exports, statements
from gateway.web.kit import FinanceVisit, Visit, WorkspaceRoute, locale_of
from gateway.web.messages import N_
from gateway.web.views import latin_number

router = APIRouter(route_class=WorkspaceRoute)
DONE = {"closed": N_("done.closed"), "paid": N_("done.paid")}


def _show(
    visit: Visit,
    db: Session,
    *,
    period: str,
    centre: str,
    done: str | None = None,
    error: GatewayError | None = None,
) -> Response:
    """The settlement page; after a refused change (``error``), that change rolled back."""
    if error is not None:
        db.rollback()
    orders: list[tuple[PaymentOrder, Centre]] = []
    try:
        scope = None
        if centre:
            found = repository.get_centre_by_code(db, centre)
            if found is None:
                raise GatewayError(
                    f"There is no centre {centre}.",
                    404,
                    code="centre.not-found",
                    params={"code": centre},
                )
            scope = found.id
        rows = settlement.list_orders(db, period=period or None, centre_scope=scope)
        centres = repository.centres_by_id(db, {o.centre_id for o in rows})
        orders = [(o, centres[o.centre_id]) for o in rows]
    except GatewayError as exc:
        error = error or exc
    return visit.render(
        "settlements.html",
        status_code=error.status_code if error else 200,
        period=period,
        centre=centre,
        orders=orders,
        done=done,
        error=error,
    )


def _period(text: str) -> str:
    return latin_number(text)[:7].replace("/", "-")


@router.get("/settlements")
def settlements(
    visit: FinanceVisit, db: ReadSession, period: str = "", centre: str = "", done: str = ""
) -> Response:
    return _show(visit, db, period=_period(period), centre=centre.strip()[:20], done=DONE.get(done))


def _back(period: str, done: str) -> Response:
    query = urlencode({"period": period, "done": done})
    return RedirectResponse(f"/web/settlements?{query}", status_code=303)


@router.post("/settlements/close")
def close_period(
    visit: FinanceVisit,
    db: WriteSession,
    period: Annotated[str, Form(max_length=20)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """First a page saying what closing will order, per centre; closing when confirmed."""
    wanted = _period(period)
    today_ = today(visit.state.settings)
    try:
        if confirmed != "yes":
            due = settlement.preview_close(db, period=wanted, today=today_)
            return visit.render(
                "settlement_confirm.html",
                action="close",
                period=wanted,
                due=due,
                totals={
                    name: sum(getattr(d, name) for d in due)
                    for name in ("documents", "requested", "eligible", "insurer_share")
                },
            )
        settlement.close_period(db, period=wanted, actor=visit.actor, today=today_)
    except GatewayError as exc:
        return _show(visit, db, period=wanted, centre="", error=exc)
    return _back(wanted, "closed")


@router.post("/settlements/{order_id}/paid")
def mark_paid(
    order_id: RowId,
    visit: FinanceVisit,
    db: WriteSession,
    reference: Annotated[str, Form(max_length=60)] = "",
    period: Annotated[str, Form(max_length=20)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """First a page naming the order, its amount and the reference; paid when confirmed."""
    try:
        if confirmed != "yes":
            order = settlement.get_order(db, order_id, None)
            centre = repository.centres_by_id(db, {order.centre_id})[order.centre_id]
            return visit.render(
                "settlement_confirm.html",
                action="paid",
                order=order,
                centre_row=centre,
                reference=reference.strip(),
                period=_period(period),
            )
        order = settlement.mark_paid(db, order_id=order_id, reference=reference, actor=visit.actor)
        paid_period = order.period
    except GatewayError as exc:
        return _show(visit, db, period=_period(period), centre="", error=exc)
    return _back(paid_period, "paid")


def _statement_read(db: Session, visit: Visit, route: str, order: PaymentOrder) -> None:
    scope = reads.Scope(reads.ORDER, str(order.id), order.documents)
    reads.record_read(db, visit, route, scope=scope)


@router.get("/settlements/{order_id}/statement")
def statement_page(order_id: RowId, visit: FinanceVisit, db: WriteSession) -> Response:
    """The order's remittance statement to read or print; audited like its CSV."""
    order = settlement.get_order(db, order_id, None)
    centre = repository.centres_by_id(db, {order.centre_id})[order.centre_id]
    shown = statements.statement(db, order)
    _statement_read(db, visit, "GET /web/settlements/{id}/statement", order)
    return visit.render("statement.html", order=order, centre_row=centre, statement=shown)


@router.get("/settlements/{order_id}/statement.csv")
def statement_csv(
    order_id: RowId, request: Request, visit: FinanceVisit, db: WriteSession
) -> Response:
    """The statement as CSV in the page's language: UTF-8 with a byte-order mark, and
    identifiers kept as text (``exports``)."""
    order = settlement.get_order(db, order_id, None)
    body = exports.statement_csv(settlement.statement_rows(db, order), locale_of(request))
    _statement_read(db, visit, "GET /web/settlements/{id}/statement.csv", order)
    name = f"remittance-{order.period}-{order.id}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
