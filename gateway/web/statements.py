"""A payment order's remittance statement as a page: one row per document line with its
deductions, grouped by document, and a totals row.

The totals are the sums of the lines shown; the page puts the order's own amounts beside
them and says so when the two differ (they never should: closing a period sums the same
documents' figures), rather than showing one and letting a reader trust the other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from gateway.documents.view import Deduction, DocumentView
from gateway.kit.periods import period_end
from gateway.settlement import service as settlement
from gateway.storage.models import PaymentOrder
from gateway.web import repository as web_repository

# The order's amounts a statement adds up to: (figure, the order's column).
ORDER_FIGURES = (
    ("requested", "requested_amount"),
    ("deducted", "deduction_amount"),
    ("eligible", "eligible_amount"),
    ("copayment", "copayment_amount"),
    ("insurer", "insurer_amount"),
    ("fund", "fund_amount"),
)


@dataclass(frozen=True, slots=True)
class Figures:
    requested: int = 0
    deducted: int = 0
    eligible: int = 0
    copayment: int = 0
    insurer: int = 0
    fund: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, n) + getattr(other, n) for n, _ in ORDER_FIGURES))


@dataclass(frozen=True, slots=True)
class StatementLine:
    line_no: int
    code_type: str
    code: str
    service_date: date
    quantity: int
    allowed_quantity: int
    deductions: tuple[Deduction, ...]
    figures: Figures


@dataclass(frozen=True, slots=True)
class StatementDocument:
    view: DocumentView
    lines: list[StatementLine]
    figures: Figures
    titles: dict[str, str]  # the tariff's titles of its codes


@dataclass(frozen=True, slots=True)
class Statement:
    documents: list[StatementDocument]
    totals: Figures
    order_figures: Figures
    first_day: date
    last_day: date

    @property
    def adds_up(self) -> bool:
        return self.totals == self.order_figures

    @property
    def lines(self) -> int:
        return sum(len(d.lines) for d in self.documents)


def _document(view: DocumentView, titles: dict[str, str]) -> StatementDocument:
    lines = []
    for line, c in view.priced_lines():
        fund = sum(p.amount for p in c.payers if p.kind == "fund")
        figures = Figures(c.requested, c.deducted, c.eligible, c.copayment, c.insurer_share, fund)
        lines.append(
            StatementLine(
                line_no=line.line_no,
                code_type=line.code_type,
                code=line.code,
                service_date=line.service_date,
                quantity=line.quantity,
                allowed_quantity=c.allowed_quantity,
                deductions=c.deductions,
                figures=figures,
            )
        )
    return StatementDocument(view, lines, sum((ln.figures for ln in lines), Figures()), titles)


def statement(session: Session, order: PaymentOrder) -> Statement:
    views = settlement.statement_documents(session, order)
    codes: dict[int | None, set[str]] = defaultdict(set)
    for view in views:
        codes[view.tariff.version if view.tariff else None] |= {ln.code for ln in view.lines}
    titles = {version: web_repository.tariff_titles(session, version, wanted)
              for version, wanted in codes.items()}  # fmt: skip
    documents = [
        _document(view, titles[view.tariff.version if view.tariff else None]) for view in views
    ]
    end = period_end(order.period)
    return Statement(
        documents=documents,
        totals=sum((d.figures for d in documents), Figures()),
        order_figures=Figures(*(getattr(order, column) for _, column in ORDER_FIGURES)),
        first_day=end.replace(day=1),
        last_day=end,
    )
