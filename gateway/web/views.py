"""What the pages show, gathered from the services: a document with everything about it,
the queue's filters, the dashboard's totals."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.documents.view import DocumentView, document_view
from gateway.domain import bounds
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import REVIEW_PREFIX, ReviewAction, ReviewReason
from gateway.errors import NotFoundError
from gateway.kit.periods import period_end
from gateway.pricing import service as pricing
from gateway.pricing.engine.rules import Reason
from gateway.storage import repository
from gateway.web import queries
from gateway.web.i18n import Rate
from gateway.web.messages import N_
from gateway.web.original import original_document

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
        form.problems.append(N_("queue.bad_status"))
    if form.period and not _PERIOD.match(form.period):
        form.problems.append(N_("queue.bad_period"))
    if form.min_amount and not bounds.fits(form.min_amount, bounds.INT64_MAX):
        form.problems.append(N_("queue.bad_amount"))
    if form.national_id and not re.fullmatch(r"\d{10}", form.national_id):
        form.problems.append(N_("queue.bad_national_id"))
    return form


# -- one document -----------------------------------------------------------------------


def plain(value: Decimal) -> str:
    """A decimal with thousands separators and no trailing zeros: 738,000 or 30.5."""
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class Sentence:
    """A message key and the values it takes: what the page says, in either language."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


_PRICED = re.compile(r"^priced with tariff version (\d+)( \(an estimate, not a bill\))?$")


def event_reason(view: DocumentView, actor: str, reason: str | None) -> Sentence | None:
    """A status move's reason: pricing's own moves told by their codes and figures, what a
    person typed as they typed it."""
    if not reason:
        return None
    if actor == pricing.REVIEW_ACTOR:
        return review_why(replace(view, review=reason))
    if actor == pricing.ACTOR and (found := _PRICED.match(reason)):
        key = N_("said.priced_estimate") if found.group(2) else N_("said.priced")
        return Sentence(key, {"version": int(found.group(1))})
    return Sentence(N_("said.as_written"), {"text": reason})


def review_why(view: DocumentView) -> Sentence | None:
    """Why pricing sent the document to review (or approved it), told from the criterion's
    code and the document's own figures, never from the stored English sentence (the
    thresholds in force when it was priced are not stored apart from it)."""
    if not view.review:
        return None
    criterion = view.review.partition(":")[0].strip()
    requested = view.requested
    if criterion == "amount":
        return Sentence(
            N_("why.amount"),
            {"requested": requested},
        )
    if criterion == "deductions":
        priced = sum(
            d.amount
            for _, c in view.priced_lines()
            for d in c.deductions
            if not d.reason.startswith(REVIEW_PREFIX)
        )
        share = Decimal(priced) / requested if requested else Decimal(0)
        return Sentence(
            N_("why.deductions"),
            {
                "share": Rate(share.quantize(Decimal("0.001"))),
            },
        )
    if criterion == "sample":
        month = view.service_date.strftime("%Y-%m")
        return Sentence(
            N_("why.sample"),
            {
                "centre": view.centre_code,
                "month": month,
            },
        )
    if criterion == "none":
        return Sentence(N_("why.none"))
    return Sentence(N_("why.other"), {"criterion": criterion})


def document_page(session: Session, document_id: uuid.UUID) -> dict[str, Any]:
    """Everything the document page shows; 404 when there is no such document."""
    view = document_view(session, document_id, None)
    if view is None:
        raise NotFoundError("Document")
    raw = queries.raw_payload(session, view.submission_id)
    original = original_document(raw.body, raw.content_type, view.source_path) if raw else None
    return {
        "doc": view,
        "why": review_why(view),
        "said": lambda actor, reason: event_reason(view, actor, reason),
        "audit_entries": audit.entries_for(session, "document", [str(view.id)]),
        "original": original,
        "can_review": view.status == DocumentStatus.UNDER_REVIEW,
        "review_reasons": [r.value for r in ReviewReason],
        "actions": [a.value for a in ReviewAction],
        "plain": plain,
    }
