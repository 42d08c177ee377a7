"""The donors' pages (finance and admins): every donation with what it gave and holds, and
one donation's printable report: what it paid for by month, centre and kind, never who."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.errors import GatewayError
from gateway.kit.deps import ReadSession, WriteSession
from gateway.payers import funds
from gateway.web.kit import FinanceVisit, WorkspaceRoute

router = APIRouter(route_class=WorkspaceRoute)


@router.get("/donations")
def donations(visit: FinanceVisit, db: ReadSession) -> Response:
    found = funds.donations(db)
    return visit.render("donations.html", donations=found)


@router.get("/donations/{receipt}")
def donation_report(receipt: str, visit: FinanceVisit, db: WriteSession) -> Response:
    try:
        # The report is audited (who read what a donation paid for): the request's WriteSession.
        standing, rows = funds.donor_report(db, receipt=receipt[:30], actor=visit.actor)
        return visit.render(
            "donation.html",
            standing=standing,
            rows=rows,
            total=sum(row.amount for row in rows),
        )
    except GatewayError as exc:
        db.rollback()  # a refusal answered as a page stores nothing
        return visit.render(
            "error.html", status_code=exc.status_code, key="error.not_found", detail="", error=exc
        )
