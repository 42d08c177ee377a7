"""The dashboard, the review queue and the document page with its review forms and its
requests for information (and their attachments, downloaded)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.audit import reads
from gateway.documents import repository as documents
from gateway.domain.bounds import INT32_MAX, INT64_MAX, LineNo, fits
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import ReviewAction, ReviewReason
from gateway.errors import GatewayError, NotFoundError
from gateway.information import service as information
from gateway.information.schemas import AttachmentKind
from gateway.kit.deps import ReadSession, WriteSession
from gateway.kit.http import download_response
from gateway.review import service as reviews
from gateway.storage.models import Document, utcnow
from gateway.web import views
from gateway.web.kit import Anyone, AuditorVisit, Refused, Visit, WorkspaceRoute

router = APIRouter(route_class=WorkspaceRoute)
DONE = {
    "review": "done.review",
    "approve": "done.approve",
    "deny": "done.deny",
    "asked": "done.information_asked",
    "withdrawn": "done.information_withdrawn",
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
        "dashboard.html", rows=rows, total=total, highlights=highlights, overdue=overdue
    )


@router.get("/queue")
def queue(request: Request, visit: AuditorVisit, db: WriteSession) -> Response:
    form = views.queue_form(dict(request.query_params))
    total, items = 0, list[tuple[Document, str]]()
    if not form.problems:
        total, items = documents.search_documents(
            db,
            form.criteria(),
            centre_scope=None,
            limit=views.QUEUE_PAGE,
            offset=(form.page - 1) * views.QUEUE_PAGE,
        )
    shown = [document.id for document, _ in items]
    query = form.query(form.page)
    reads.record_read(db, visit, "GET /web/queue", documents=shown, query=query, total=total)
    pages = max(1, -(-total // views.QUEUE_PAGE))
    first = (form.page - 1) * views.QUEUE_PAGE + 1
    return visit.render(
        "queue.html",
        form=form,
        problems=form.problems,
        statuses=[s.value for s in S],
        reasons=views.DEDUCTION_REASONS,
        items=items,
        total=total,
        first=first,
        last=first + len(items) - 1,
        page=form.page,
        pages=pages,
        previous_url=f"/web/queue?{form.query(form.page - 1)}" if form.page > 1 else None,
        next_url=f"/web/queue?{form.query(form.page + 1)}" if form.page < pages else None,
    )


def _document_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFoundError("Document") from None


def _show_document(
    visit: Visit,
    db: Session,
    document_id: uuid.UUID,
    *,
    done: str | None = None,
    error: GatewayError | None = None,
) -> Response:
    """The document page; reading a patient's document leaves an audit entry. A refused
    change is rolled back first: the page shows the document as stored, and the read is
    recorded in the request's session all the same."""
    if error is not None:
        db.rollback()
    context = views.document_page(db, document_id)
    response = visit.render(
        "document.html",
        status_code=error.status_code if error else 200,
        done=done,
        error=error.message if error else None,
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
        )
    return int(digits)


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
            raise GatewayError(f"Unknown review action {action!r}.", 422)
        if reason and reason not in ReviewReason.__members__.values():
            raise GatewayError(f"Unknown reason code {reason!r}.", 422)
        move = ReviewAction(action)
        reducing = move is ReviewAction.REDUCE
        reviews.review(
            db,
            document_id=key,
            line_no=line_no,
            action=move,
            reason=ReviewReason(reason) if reason else None,
            quantity=_optional_int(quantity, "quantity", INT32_MAX) if reducing else None,
            amount=_optional_int(amount, "amount", INT64_MAX) if reducing else None,
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
        raise Refused(422, "error.invalid")
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
            raise GatewayError(f"Unknown attachment kind {unknown[0][:40]!r}.", 422)
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
