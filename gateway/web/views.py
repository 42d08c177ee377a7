"""What the pages show, gathered from the services: a document with everything about it,
the queue's filters, the dashboard's totals."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from gateway.assignment import repository as assignments
from gateway.assignment.repository import QueueFilter, Sort
from gateway.audit import chain as audit
from gateway.documents.view import DocumentView, document_view
from gateway.domain import actors, bounds
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import REVIEW_PREFIX, ReviewAction, ReviewReason
from gateway.errors import GatewayError, NotFoundError
from gateway.information import service as information
from gateway.information.schemas import AttachmentKind
from gateway.kit.periods import Month, parse_month
from gateway.pricing import service as pricing
from gateway.pricing.engine.rules import Reason
from gateway.review import service as reviews
from gateway.storage import repository as storage
from gateway.submissions import repository as submissions
from gateway.web import repository as web_repository
from gateway.web.i18n import Rate
from gateway.web.messages import N_
from gateway.web.original import original_document

_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789", ",٬ ")
DEDUCTION_REASONS = [r.value for r in Reason] + [r.value for r in ReviewReason]
QUEUE_PAGE = 25
TOTAL_FIELDS = ("documents", "requested", "eligible", "deducted", "copayment", "insurer_share")


def latin_number(text: str) -> str:
    """Digits as typed, Persian or Arabic-Indic ones too, without separators."""
    return text.strip().translate(_TO_LATIN)


# -- the queue --------------------------------------------------------------------------

PAGE_SIZES = (25, 50, 100)
# What the queue says after a claim or a bulk decision: query parameter -> message.
NOTICES = {
    "claimed": N_("queue.notice.claimed"),
    "busy": N_("queue.notice.busy"),
    "closed": N_("queue.notice.closed"),
    "released": N_("queue.notice.released"),
}


def notices(params: dict[str, str]) -> list[tuple[str, int]]:
    """The notices a queue address carries, with their counts."""
    found = []
    for name, key in NOTICES.items():
        count = latin_number(params.get(name, ""))
        if count and bounds.fits(count, 100_000):
            found.append((key, int(count)))
    return found


SORTS = [s.value for s in Sort]


@dataclass
class QueueForm:
    """The queue's filters as typed; ``problems`` names each one that cannot be used."""

    status: str = DocumentStatus.UNDER_REVIEW.value
    centre: str = ""
    period: str = ""
    min_amount: str = ""
    reason: str = ""
    national_id: str = ""
    number: str = ""
    mine: bool = False
    appealed: bool = False
    sort: Sort = Sort.RECEIVED
    descending: bool = False  # oldest first: what ageing asks for
    size: int = QUEUE_PAGE
    page: int = 1
    problems: list[str] = field(default_factory=list)
    month: Month | None = None

    def criteria(self, holder_id: int | None = None) -> QueueFilter:
        return QueueFilter(
            status=self.status or None,
            centre_code=self.centre or None,
            service_dates=(self.month.first, self.month.last) if self.month else None,
            min_amount=int(self.min_amount) if self.min_amount else None,
            reason=self.reason or None,
            national_id=self.national_id or None,
            number=self.number or None,
            holder_id=holder_id if self.mine else None,
            appealed=self.appealed,
        )

    def fields(self, **changes: object) -> dict[str, str]:
        values: dict[str, object] = {
            "status": self.status,
            "centre": self.centre,
            "period": self.period,
            "min_amount": self.min_amount,
            "reason": self.reason,
            "national_id": self.national_id,
            "number": self.number,
            "mine": "1" if self.mine else "",
            "appealed": "1" if self.appealed else "",
            "sort": self.sort.value,
            "dir": "desc" if self.descending else "asc",
            "size": str(self.size),
            "page": str(self.page),
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v or k == "status"}

    def query(self, page: int | None = None, **changes: object) -> str:
        return urlencode(self.fields(page=page or self.page, **changes))

    def sort_query(self, column: str) -> str:
        """The query sorting by ``column``: ascending first, the other way when it is on."""
        flip = column == self.sort.value and not self.descending
        return self.query(1, sort=column, dir="desc" if flip else "asc")


def queue_form(params: dict[str, str]) -> QueueForm:
    form = QueueForm(
        status=params.get("status", DocumentStatus.UNDER_REVIEW.value).strip(),
        centre=params.get("centre", "").strip()[:20],
        period=latin_number(params.get("period", ""))[:10],
        min_amount=latin_number(params.get("min_amount", ""))[:20],
        reason=params.get("reason", "").strip()[:40],
        national_id=latin_number(params.get("national_id", ""))[:10],
        number=params.get("number", "").strip()[:40],
        mine=params.get("mine", "") == "1",
        appealed=params.get("appealed", "") == "1",
        descending=params.get("dir", "asc") == "desc",
    )
    sort = params.get("sort", Sort.RECEIVED.value)
    form.sort = Sort(sort) if sort in SORTS else Sort.RECEIVED
    size = latin_number(params.get("size", ""))
    form.size = int(size) if size in {str(n) for n in PAGE_SIZES} else QUEUE_PAGE
    page = latin_number(params.get("page", "1"))
    form.page = int(page) if bounds.fits(page, 99_999) and int(page) > 0 else 1
    if form.status and form.status not in DocumentStatus.__members__:
        form.problems.append(N_("queue.bad_status"))
    if form.period:
        form.month = parse_month(form.period)
        if form.month is None:
            form.problems.append(N_("queue.bad_period"))
        else:
            form.period = form.month.text
    if form.min_amount and not bounds.fits(form.min_amount, bounds.INT64_MAX):
        form.problems.append(N_("queue.bad_amount"))
    if form.national_id and not re.fullmatch(r"\d{1,10}", form.national_id):
        form.problems.append(N_("queue.bad_national_id"))
    return form


@dataclass(frozen=True, slots=True)
class Paging:
    """Where a page is in the results, clamped: a page past the end shows the last one."""

    total: int
    size: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    def last(self, shown: int) -> int:
        return self.offset + shown

    def shown(self, count: int, url: Callable[[int], str]) -> dict[str, Any]:
        """What a paged page's template (and ``_pager.html``) shows for ``count`` rows on
        this page; ``url`` gives the address of another page by its number."""
        return {
            "total": self.total,
            "first": self.first,
            "last": self.last(count),
            "page": self.page,
            "pages": self.pages,
            "previous_url": url(self.page - 1) if self.page > 1 else None,
            "next_url": url(self.page + 1) if self.page < self.pages else None,
        }


def paging(total: int, size: int, page: int) -> Paging:
    pages = max(1, -(-total // size))
    return Paging(total, size, min(max(page, 1), pages))


def age_days(received: datetime, today: date) -> int:
    return max(0, (today - received.date()).days)


def sla_state(days: int, sla_days: int) -> str:
    """``late`` past the days allowed, ``due`` from three quarters of them, else ``ok``."""
    if days > sla_days:
        return "late"
    return "due" if days * 4 >= sla_days * 3 else "ok"


def criterion_of(review: str | None) -> str | None:
    """Pricing's criterion code at the head of its review reason (amount, deductions...)."""
    if not review:
        return None
    code = review.partition(":")[0].strip()
    return code if code in ("amount", "deductions", "sample") else None


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
    if actor == reviews.APPEAL_ACTOR:
        return Sentence(N_("said.appeal_returns"))
    if actor == pricing.ACTOR and (found := _PRICED.match(reason)):
        key = N_("said.priced_estimate") if found.group(2) else N_("said.priced")
        return Sentence(key, {"version": int(found.group(1))})
    return system_reason(reason) or Sentence(N_("said.as_written"), {"text": reason})


# The reasons the gateway itself writes on a move (lifecycle, submissions, batches,
# review, information, settlement, corrections), told in the reader's language; a reason
# a person typed is shown as typed.
_SAID = {
    "received": N_("said.received"),
    "schema and rules passed": N_("said.checks_passed"),
    "approved": N_("said.approved"),
    "denied": N_("said.denied"),
    "information requested": N_("said.information_requested"),
    "information received": N_("said.information_received"),
    "information request withdrawn": N_("said.information_withdrawn"),
}
_SAID_WITH = (
    (re.compile(r"^(\d+) problem\(s\)$"), N_("said.problems"), ("count",)),
    (re.compile(r"^replaced by document (\S+)$"), N_("said.replaced_by"), ("document",)),
    (re.compile(r"^payment order (\d+) \((\d{4}-\d{2})\)$"), N_("said.payment_order"),
     ("order", "period")),
    (re.compile(r"^paid under reference (.+)$"), N_("said.paid"), ("reference",)),
)  # fmt: skip
_REASON_CODES = frozenset(DEDUCTION_REASONS)


def system_reason(reason: str) -> Sentence | None:
    """A reason the gateway wrote, as a message key and its values; None for free text."""
    if key := _SAID.get(reason):
        return Sentence(key)
    for pattern, key, names in _SAID_WITH:
        if found := pattern.match(reason):
            values = {
                n: int(v) if n == "count" else v for n, v in zip(names, found.groups(), strict=True)
            }
            return Sentence(key, values)
    if reason in _REASON_CODES:  # a decision's reason code: its label
        return Sentence(f"reason.{reason}")
    return None


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


def document_page(
    session: Session, document_id: uuid.UUID, *, user_id: int, now: datetime
) -> dict[str, Any]:
    """Everything the document page shows (its requests for information first); 404 when
    there is no such document."""
    view = document_view(session, document_id, None)
    if view is None:
        raise NotFoundError("Document", code="document.not-found")
    raw = submissions.raw_payload(session, view.submission_id)
    original = original_document(raw.body, raw.content_type, view.source_path) if raw else None
    entries = audit.entries_for(session, "document", [str(view.id)])
    actors = {e.actor for e in view.history} | {r.actor for r in view.reviews}
    actors |= {a.actor for a in view.appeals} | {e.actor for e in entries}
    holder = assignments.holders(session, [view.id], now).get(view.id)
    mine = holder is not None and holder[0] == user_id
    claim = storage.live_claim(session, view.id, now)
    following = web_repository.next_in_review(session, view.id, user_id, now)
    return {
        "doc": view,
        "why": review_why(view),
        "said": lambda actor, reason: event_reason(view, actor, reason),
        "audit_entries": entries,
        "original": original,
        "can_review": view.status == DocumentStatus.UNDER_REVIEW,
        "exchange": information.exchange(session, view.id),
        "can_ask": view.status == DocumentStatus.UNDER_REVIEW,
        "attachment_kinds": [k.value for k in AttachmentKind],
        "review_reasons": [r.value for r in ReviewReason],
        "actions": [a.value for a in ReviewAction],
        "plain": plain,
        "who": _names(session, actors),
        "titles": web_repository.tariff_titles(
            session, view.tariff.version if view.tariff else None, {ln.code for ln in view.lines}
        ),
        "others": web_repository.patient_documents(
            session, view.patient_national_id, view.service_date - timedelta(days=365), view.id
        ),
        "holder": holder,
        "mine": mine,
        # Another auditor's live claim: only they (or an admin) may move the document.
        "held_by_other": claim if holder is not None and not mine else None,
        "auditors": assignments.auditors(session),
        "next_url": f"/web/documents/{following}" if following else None,
        "appeal": view.appeals[-1] if view.appeals else None,
    }


def _names(session: Session, recorded: set[str]) -> dict[str, str]:
    """How each actor is shown to staff: a person by name, a staff token by its label."""
    users = web_repository.staff_names(session, actors.user_names(recorded))
    tokens: dict[int, str] = {}
    token_ids = {
        int(number)
        for role, _, number in (a.partition(":") for a in recorded)
        if role in actors.STAFF_ROLES and number.isdigit() and len(number) < 10
    }
    tokens = web_repository.token_labels(session, token_ids)
    shown = {}
    for actor in recorded:
        name = actors.user_name(actor)
        role, _, number = actor.partition(":")
        if name is not None and name in users:
            shown[actor] = users[name]
        elif role in actors.STAFF_ROLES and number.isdigit() and int(number) in tokens:
            shown[actor] = f"{tokens[int(number)] or actor} ({role})"
    return shown


# -- the dashboard's charts ---------------------------------------------------------------

AGE_LABELS = (
    N_("age.under_1"),
    N_("age.1_3"),
    N_("age.3_7"),
    N_("age.7_14"),
    N_("age.14_30"),
    N_("age.over_30"),
)


def dashboard_charts(session: Session, now: datetime, days: int = 30) -> dict[str, Any]:
    """What the dashboard draws: the last ``days`` days, deductions by reason, the
    backlog and the money owed by age, and each busy centre against its peers' median."""
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    found = {d.day: d for d in web_repository.per_day(session, since)}
    calendar = [(since + timedelta(days=i)).date().isoformat() for i in range(days)]
    per_day = [found.get(day) or web_repository.Day(day, 0, 0) for day in calendar]
    backlog = [[0, 0] for _ in AGE_LABELS]
    for bucket, count, requested in web_repository.backlog_by_age(session, now):
        backlog[bucket] = [count, requested]
    owed = {status: [0] * len(AGE_LABELS) for status in ("APPROVED", "PAYMENT_ORDERED")}
    for status, bucket, amount in web_repository.owed_by_age(session, now):
        owed[status][bucket] = amount
    rates = web_repository.centre_rates(session)
    return {
        "per_day": per_day,
        "by_reason": web_repository.deductions_by_reason(session),
        "backlog": list(zip(AGE_LABELS, backlog, strict=True)),
        "owed": [(label, owed["APPROVED"][i], owed["PAYMENT_ORDERED"][i])
                 for i, label in enumerate(AGE_LABELS)],
        "rates": rates,
        "median_rejection": median([r.rejection_rate for r in rates]) if rates else 0.0,
        "median_deduction": median([r.deduction_rate for r in rates]) if rates else 0.0,
    }  # fmt: skip


def line_numbers(text: str) -> list[int]:
    """Line numbers typed as "1, 3 4" (Persian or Latin digits); a 422 for anything else."""
    numbers = []
    for item in re.split(r"[\s,،]+", text.strip()):
        if not item:
            continue
        digits = latin_number(item)
        if not bounds.fits(digits, bounds.INT32_MAX) or int(digits) < 1:
            raise GatewayError(
                f"{item[:20]!r} is not a line number.",
                422,
                code="request.line-number",
                params={"text": item[:20]},
            )
        numbers.append(int(digits))
    return numbers
