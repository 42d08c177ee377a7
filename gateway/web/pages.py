"""The dashboard, the review queue and the document page with its review forms and its
requests for information (and their attachments, downloaded)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.assignment import repository as queue_search
from gateway.assignment.repository import QueueRow
from gateway.audit import reads
from gateway.documents import repository as documents
from gateway.domain.bounds import INT32_MAX, INT64_MAX, LineNo, fits
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import ReviewAction, ReviewReason
from gateway.errors import DocumentHeldError, GatewayError, NotFoundError
from gateway.information import service as information
from gateway.information.schemas import AttachmentKind
from gateway.kit.deps import ReadSession, WriteSession
from gateway.kit.http import download_response
from gateway.review import service as reviews
from gateway.storage.models import utcnow
from gateway.web import charts, exports, views
from gateway.web.kit import Anyone, AuditorVisit, Refused, Visit, WorkspaceRoute, locale_of
from gateway.web.messages import N_

router = APIRouter(route_class=WorkspaceRoute)
DONE = {
    "review": N_("done.review"),
    "approve": N_("done.approve"),
    "deny": N_("done.deny"),
    "claim": N_("done.claim"),
    "release": N_("done.release"),
    "assign": N_("done.assign"),
    "asked": N_("done.information_asked"),
    "withdrawn": N_("done.information_withdrawn"),
}
S = DocumentStatus


@router.get("/")
def dashboard(visit: Anyone, db: ReadSession) -> Response:
    found = {row.status: row for row in documents.totals_by_status(db)}
    overdue = information.waiting(db, utcnow()).overdue
    rows = [found[s.value] for s in S if s.value in found]
    total = documents.StatusTotals(
        "",
        *(sum(getattr(r, name) for r in rows) for name in views.TOTAL_FIELDS),
    )
    highlights = [
        found.get(s.value) or documents.StatusTotals(s.value, 0, 0, 0, 0, 0, 0)
        for s in (S.UNDER_REVIEW, S.APPROVED, S.PAYMENT_ORDERED, S.PAID)
    ]
    return visit.render(
        "dashboard.html",
        rows=rows,
        total=total,
        highlights=highlights,
        overdue=overdue,
        bar=charts.bar,
        columns=charts.columns,
        **views.dashboard_charts(db, _now()),
    )


EXPORT_MOST = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/queue")
def queue(request: Request, visit: AuditorVisit, db: WriteSession) -> Response:
    form = views.queue_form(dict(request.query_params))
    now = _now()
    total, rows = 0, list[QueueRow]()
    page = views.paging(0, form.size, form.page)
    if not form.problems:
        criteria = form.criteria(visit.user.id)
        total = queue_search.count(db, criteria, now=now)
        page = views.paging(total, form.size, form.page)
        form.page = page.page
        rows = queue_search.search(
            db, criteria, sort=form.sort, descending=form.descending,
            limit=page.size, offset=page.offset, now=now,
        )  # fmt: skip
    shown = [row.document.id for row in rows]
    reads.record_read(db, visit, "GET /web/queue", documents=shown, query=form.query(), total=total)
    sla = visit.state.settings.review_sla_days
    today = now.date()
    return visit.render(
        "queue.html",
        form=form,
        problems=form.problems,
        notices=views.notices(dict(request.query_params)),
        statuses=[s.value for s in S],
        reasons=views.DEDUCTION_REASONS,
        sorts=views.SORTS,
        sizes=views.PAGE_SIZES,
        centres=queue_search.centre_codes(db),
        rows=[(row, views.age_days(row.document.created_at, today)) for row in rows],
        sla_state=lambda days: views.sla_state(days, sla),
        sla_days=sla,
        criterion_of=views.criterion_of,
        me=visit.user.id,
        **page.shown(len(rows), lambda n: f"/web/queue?{form.query(n)}"),
    )


@router.get("/queue/export.{extension}")
def queue_export(
    extension: str, request: Request, visit: AuditorVisit, db: WriteSession
) -> Response:
    """The current filter's documents (up to EXPORT_MOST), in its order, as CSV or XLSX."""
    if extension not in ("csv", "xlsx"):
        raise Refused(404, N_("error.not_found"))
    form = views.queue_form(dict(request.query_params))
    if form.problems:
        raise Refused(422, form.problems[0])
    now = _now()
    rows = queue_search.search(
        db, form.criteria(visit.user.id), sort=form.sort, descending=form.descending,
        limit=EXPORT_MOST, offset=0, now=now,
    )  # fmt: skip
    scope = reads.Scope("queue-export", form.query(1)[:60], len(rows))
    if rows:
        reads.record_read(db, visit, f"GET /web/queue/export.{extension}", scope=scope)
    locale = locale_of(request)
    name = f"review-queue-{now:%Y%m%d-%H%M}.{extension}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if extension == "csv":
        body = exports.queue_csv(rows, locale, now.date())
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
    body = exports.queue_xlsx(rows, locale, now.date())
    return Response(body, media_type=exports.XLSX_TYPE, headers=headers)


def _document_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFoundError("Document", code="document.not-found") from None


def _show_document(
    visit: Visit,
    db: Session,
    document_id: uuid.UUID,
    *,
    done: str | None = None,
    error: GatewayError | None = None,
    error_key: str | None = None,
) -> Response:
    """The document page; reading a patient's document leaves an audit entry. A refused
    change is rolled back first: the page shows the document as stored, and the read is
    recorded in the request's session all the same."""
    if error is not None:
        db.rollback()
    context = views.document_page(db, document_id, user_id=visit.user.id, now=_now())
    held = error if isinstance(error, DocumentHeldError) else None  # told in the reader's words
    response = visit.render(
        "document.html",
        status_code=error.status_code if error else 422 if error_key else 200,
        done=done,
        error=error if error and not held else None,
        error_key=error_key,
        held_error=held,
        **context,
    )
    route = "GET /web/documents/{id}"
    reads.record_read(db, visit, route, documents=[document_id])
    return response


@router.get("/documents/{document_id}")
def document(document_id: str, visit: AuditorVisit, db: WriteSession, done: str = "") -> Response:
    return _show_document(visit, db, _document_id(document_id), done=DONE.get(done))


def _optional_int(text: str, what: str, largest: int) -> int | None:
    digits = views.latin_number(text)
    if not digits:
        return None
    if not fits(digits, largest):
        raise GatewayError(
            f"The {what} must be a whole number from 0 to {largest:,}, got {text.strip()[:30]!r}.",
            422,
            code="review.figure-range",
            params={"largest": largest, "text": text.strip()[:30]},
        )
    return int(digits)


def _review_refusal(move: ReviewAction, reason: str, quantity: str, amount: str) -> str | None:
    """The refusals the page tells before asking the service (whose own refusals are
    told by their codes, ``gateway.web.refusals``)."""
    if move is not ReviewAction.ACCEPT and not reason:
        return N_("review.need_reason")
    if move is ReviewAction.REDUCE and bool(quantity.strip()) == bool(amount.strip()):
        return N_("review.need_one_figure")
    return None


@router.post("/documents/{document_id}/lines/{line_no}/review")
def review_line(
    document_id: str,
    line_no: LineNo,
    visit: AuditorVisit,
    db: WriteSession,
    action: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=60)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
    amount: Annotated[str, Form(max_length=30)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    key = _document_id(document_id)
    try:
        if action not in ReviewAction.__members__.values():
            raise GatewayError(
                f"Unknown review action {action!r}.",
                422,
                code="review.unknown-action",
                params={"action": action},
            )
        if reason and reason not in ReviewReason.__members__.values():
            raise GatewayError(
                f"Unknown reason code {reason!r}.",
                422,
                code="review.unknown-reason",
                params={"reason": reason},
            )
        move = ReviewAction(action)
        reducing = move is ReviewAction.REDUCE
        # Figures out of range are told first, whatever else the form lacks.
        wanted_quantity = _optional_int(quantity, "quantity", INT32_MAX) if reducing else None
        wanted_amount = _optional_int(amount, "amount", INT64_MAX) if reducing else None
        said = _review_refusal(move, reason, quantity, amount)
        if said is not None:
            return _show_document(visit, db, key, error_key=said)
        reviews.review(
            db,
            document_id=key,
            line_no=line_no,
            action=move,
            reason=ReviewReason(reason) if reason else None,
            quantity=wanted_quantity,
            amount=wanted_amount,
            note=note.strip(),
            actor=visit.actor,
        )
    except GatewayError as exc:
        return _show_document(visit, db, key, error=exc)
    return RedirectResponse(f"/web/documents/{key}?done=review#line-{line_no}", status_code=303)


@router.post("/documents/{document_id}/decision")
def decide(
    document_id: str,
    visit: AuditorVisit,
    db: WriteSession,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    key = _document_id(document_id)
    if decision not in ("approve", "deny"):
        raise Refused(422, N_("error.invalid"))
    try:
        reviews.decide(
            db,
            document_id=key,
            approve=decision == "approve",
            reason=reason.strip(),
            actor=visit.actor,
        )
    except GatewayError as exc:
        return _show_document(visit, db, key, error=exc)
    return RedirectResponse(f"/web/documents/{key}?done={decision}", status_code=303)


@router.post("/documents/{document_id}/information-requests")
def ask_information(
    document_id: str,
    visit: AuditorVisit,
    db: WriteSession,
    question: Annotated[str, Form(max_length=4000)] = "",
    lines: Annotated[str, Form(max_length=400)] = "",
    kinds: Annotated[list[str] | None, Form(max_length=5)] = None,
) -> Response:
    """The auditor asks the document's centre for information; the document waits."""
    key = _document_id(document_id)
    try:
        wanted = kinds or []
        unknown = [k for k in wanted if k not in AttachmentKind.__members__.values()]
        if unknown:
            raise GatewayError(
                f"Unknown attachment kind {unknown[0][:40]!r}.",
                422,
                code="information.unknown-kind",
                params={"kind": unknown[0][:40]},
            )
        information.ask(
            db,
            document_id=key,
            question=question,
            lines=views.line_numbers(lines),
            kinds=[AttachmentKind(k) for k in wanted],
            actor=visit.actor,
            deadline_days=visit.state.settings.information_deadline_days,
        )
    except GatewayError as exc:
        return _show_document(visit, db, key, error=exc)
    return RedirectResponse(f"/web/documents/{key}?done=asked#information", status_code=303)


@router.post("/documents/{document_id}/information-requests/{request_id}/withdraw")
def withdraw_information(
    document_id: str,
    request_id: str,
    visit: AuditorVisit,
    db: WriteSession,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The auditor takes the open question back; the document returns to review."""
    key = _document_id(document_id)
    try:
        information.withdraw(
            db,
            document_id=key,
            request_id=_document_id(request_id),
            reason=reason,
            actor=visit.actor,
        )
    except GatewayError as exc:
        return _show_document(visit, db, key, error=exc)
    return RedirectResponse(f"/web/documents/{key}?done=withdrawn#information", status_code=303)


@router.get("/attachments/{sha256}")
def attachment(sha256: str, visit: AuditorVisit, db: WriteSession) -> Response:
    """An answer's attachment, downloaded (never shown inline); the read is audited."""
    stored, filename = information.attachment(db, sha256, None)
    shown = information.documents_carrying(db, stored.sha256)
    reads.record_read(db, visit, "GET /web/attachments/{sha256}", documents=shown)
    return download_response(stored.body, stored.content_type, filename)
