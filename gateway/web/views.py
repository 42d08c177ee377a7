"""What the pages show, gathered from the services: a document with everything about it,
the queue's filters, the dashboard's totals."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from gateway import audit, reviews
from gateway.domain import bounds
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import REVIEW_PREFIX, ReviewAction, ReviewReason
from gateway.errors import NotFoundError
from gateway.remittance import Adjustment, AdviceLine, Term, advice_of
from gateway.settlement import period_end
from gateway.storage import repository
from gateway.web import queries
from gateway.web.original import original_document
from workers.pricing.rules import Reason

_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789", ",٬ ")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DEDUCTION_REASONS = [r.value for r in Reason] + [r.value for r in ReviewReason]
QUEUE_PAGE = 25
TOTAL_FIELDS = ("documents", "requested", "eligible", "deducted", "copayment", "insurer_share")


def latin_number(text: str) -> str:
    """Digits as typed, Persian or Arabic-Indic ones too, without separators."""
    return text.strip().translate(_TO_LATIN)


# -- the queue --------------------------------------------------------------------------


@dataclass
class QueueForm:
    """The queue's filters as typed; ``problems`` names each one that cannot be used."""

    status: str = DocumentStatus.UNDER_REVIEW.value
    centre: str = ""
    period: str = ""
    min_amount: str = ""
    reason: str = ""
    national_id: str = ""
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def criteria(self) -> repository.DocumentFilter:
        bounds = None
        if self.period:
            end = period_end(self.period)
            bounds = (end.replace(day=1), end)
        return repository.DocumentFilter(
            status=self.status or None,
            centre_code=self.centre or None,
            period=bounds,
            min_amount=int(self.min_amount) if self.min_amount else None,
            reason=self.reason or None,
            national_id=self.national_id or None,
        )

    def query(self, page: int) -> str:
        fields = {
            "status": self.status,
            "centre": self.centre,
            "period": self.period,
            "min_amount": self.min_amount,
            "reason": self.reason,
            "national_id": self.national_id,
            "page": str(page),
        }
        return urlencode({k: v for k, v in fields.items() if v or k == "status"})


def queue_form(params: dict[str, str]) -> QueueForm:
    form = QueueForm(
        status=params.get("status", DocumentStatus.UNDER_REVIEW.value).strip(),
        centre=params.get("centre", "").strip()[:20],
        period=latin_number(params.get("period", ""))[:7].replace("/", "-"),
        min_amount=latin_number(params.get("min_amount", ""))[:20],
        reason=params.get("reason", "").strip()[:40],
        national_id=latin_number(params.get("national_id", ""))[:10],
    )
    page = latin_number(params.get("page", "1"))
    form.page = int(page) if bounds.fits(page, 99_999) and int(page) > 0 else 1
    if form.status and form.status not in DocumentStatus.__members__:
        form.problems.append("queue.bad_status")
    if form.period and not _PERIOD.match(form.period):
        form.problems.append("queue.bad_period")
    if form.min_amount and not bounds.fits(form.min_amount, bounds.INT64_MAX):
        form.problems.append("queue.bad_amount")
    if form.national_id and not re.fullmatch(r"\d{10}", form.national_id):
        form.problems.append("queue.bad_national_id")
    return form


# -- one document -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineView:
    line_no: int
    code_type: str
    code: str
    description: str | None
    service_date: date
    quantity: int
    unit_price: int
    requested: int
    priced: bool
    basis: str | None = None
    terms: tuple[TermView, ...] = ()
    tariff_unit_price: int | None = None
    allowed_quantity: int = 0
    eligible: int | None = None
    copay_rate: Decimal | None = None
    copayment: int | None = None
    insurer_share: int | None = None
    adjustments: tuple[Adjustment, ...] = ()
    explanation: str = ""

    @property
    def unit_based(self) -> bool:
        return self.basis in ("rvu", "drug") and self.allowed_quantity > 0

    @property
    def pricing_allowed(self) -> int:
        """What pricing allowed before any review: the ceiling of a reduction."""
        review = sum(a.amount for a in self.adjustments if a.reason.startswith(REVIEW_PREFIX))
        return (self.eligible or 0) + review

    @property
    def copay_percent(self) -> str:
        return "—" if self.copay_rate is None else f"{plain(self.copay_rate * 100)}%"


@dataclass(frozen=True, slots=True)
class TermView:
    component: str
    units: str
    k: int
    amount_text: str


def plain(value: Decimal) -> str:
    """A decimal with thousands separators and no trailing zeros: 738,000 or 30.5."""
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _term(term: Term) -> TermView:
    return TermView(term.component, term.units, term.k, plain(term.amount))


def _priced_line(line: AdviceLine) -> LineView:
    return LineView(
        line_no=line.line_no,
        code_type=line.code_type,
        code=line.code,
        description=line.description,
        service_date=line.service_date,
        quantity=line.quantity,
        unit_price=line.unit_price,
        requested=line.requested,
        priced=True,
        basis=line.basis,
        terms=tuple(_term(t) for t in line.terms),
        tariff_unit_price=line.tariff_unit_price,
        allowed_quantity=line.allowed_quantity,
        eligible=line.eligible,
        copay_rate=line.copay_rate,
        copayment=line.copayment,
        insurer_share=line.insurer_share,
        adjustments=line.adjustments,
        explanation=line.explanation,
    )


def document_page(session: Session, document_id: uuid.UUID) -> dict[str, Any]:
    """Everything the document page shows; 404 when there is no such document."""
    document = repository.get_document(session, document_id, None)
    if document is None:
        raise NotFoundError("Document")
    advice = advice_of(session, document)
    if advice is not None:
        lines = [_priced_line(line) for line in advice.lines]
    else:
        lines = [
            LineView(
                line_no=row.line_no,
                code_type=row.code_type,
                code=row.code,
                description=row.description,
                service_date=row.service_date,
                quantity=row.quantity,
                unit_price=row.unit_price,
                requested=row.amount,
                priced=False,
            )
            for row in document.lines
        ]
    by_reason: dict[str, int] = defaultdict(int)
    for line in lines:
        for adjustment in line.adjustments:
            by_reason[adjustment.reason] += adjustment.amount
    numbers = {row.id: row.line_no for row in document.lines}
    raw = queries.raw_payload(session, document.submission_id)
    original = original_document(raw.body, raw.content_type, document.source_path) if raw else None
    return {
        "doc": document,
        "advice": advice,
        "lines": lines,
        "by_reason": dict(sorted(by_reason.items())),
        "reviews": [
            (numbers.get(r.line_id, 0), r) for r in reviews.review_history(session, document.id)
        ],
        "appeals": reviews.appeals_of(session, document.id),
        "audit_entries": audit.entries_for(session, "document", [str(document.id)]),
        "original": original,
        "can_review": document.status == DocumentStatus.UNDER_REVIEW,
        "review_reasons": [r.value for r in ReviewReason],
        "actions": [a.value for a in ReviewAction],
    }
