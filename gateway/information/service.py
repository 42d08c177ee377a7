"""Requests for information: an auditor asks, the centre answers, the sweeper tells of
deadlines passed.

Each function works in the caller's transaction (it never commits), locks the document
it moves, checks the move against the lifecycle table (a document not UNDER_REVIEW cannot
be asked, one not INFO_REQUESTED cannot be answered: 409), and records every step in the
status history, the audit chain and the centre's webhook events.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain as audit
from gateway.audit import journal
from gateway.documents import repository as documents
from gateway.domain import actors
from gateway.domain.lifecycle import DocumentStatus, InvalidTransitionError, transition
from gateway.errors import GatewayError, NotFoundError, transition_refused
from gateway.information import files
from gateway.information import repository as store
from gateway.information.schemas import AttachmentKind, RequestStatus
from gateway.kit import claims
from gateway.kit.db import after_commit
from gateway.storage import repository
from gateway.storage.models import (
    AnswerAttachment,
    Attachment,
    Document,
    InformationAnswer,
    InformationRequest,
    utcnow,
)
from validators.problems import Problem

S = DocumentStatus
REQUESTED = "document.information_requested"
RECEIVED = "document.information_received"
OVERDUE = "document.information_overdue"
WITHDRAWN = "document.information_withdrawn"
SWEEPER = "system:sweeper"


@dataclass(frozen=True, slots=True)
class AnswerView:
    answer: InformationAnswer
    attachments: list[store.Linked]


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request with its answers, its status at the moment it was read, and who asked as
    the reader may be told (a centre sees the auditor's role, never a user name)."""

    request: InformationRequest
    status: RequestStatus
    answers: list[AnswerView]
    requested_by: str


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def status_of(request: InformationRequest, now: datetime) -> RequestStatus:
    if request.answered_at is not None:
        return RequestStatus.ANSWERED
    if request.withdrawn_at is not None:
        return RequestStatus.WITHDRAWN
    if _aware(request.due_at) <= now:
        return RequestStatus.OVERDUE
    return RequestStatus.OPEN


def _closed_already(request_id: uuid.UUID, state: str) -> GatewayError:
    return GatewayError(
        f"Request {request_id} was {state} already.",
        409,
        code="information.answered-already"
        if state == "answered"
        else "information.withdrawn-already",
        params={"request": str(request_id)},
    )


def _locked(session: Session, document_id: uuid.UUID, centre_scope: int | None) -> Document:
    document = repository.lock_document(session, document_id)
    if document is None or (centre_scope is not None and document.centre_id != centre_scope):
        raise NotFoundError("Document", code="document.not-found")
    return document


def _move(
    session: Session,
    document: Document,
    target: DocumentStatus,
    *,
    actor: str,
    reason: str,
    request_id: uuid.UUID,
    at: datetime,
) -> None:
    try:
        move = transition(S(document.status), target, actor=actor, reason=reason, at=at)
    except InvalidTransitionError as exc:
        raise transition_refused(exc) from None
    details = {"information_request_id": str(request_id)}
    journal.record(
        session,
        [journal.Move(document.id, document.centre_id, document.external_id, move, details)],
    )
    document.status = target.value
    document.updated_at = at


def _audit(
    session: Session, actor: str, action: str, document: Document, details: dict[str, Any],
    at: datetime,
) -> None:  # fmt: skip
    record = audit.Record(actor, action, "document", str(document.id), details, at)
    audit.append(session, [record])


def _unless_held(session: Session, document: Document, actor: str, move: str, at: datetime) -> None:
    """Refuse a document another auditor holds (``gateway.kit.claims``); an admin's move
    over a claim is recorded with whose claim it was."""
    overridden = claims.check(session, document, actor=actor, now=at)
    if overridden is not None:
        details = claims.override_details(overridden, move)
        _audit(session, actor, claims.OVERRIDE_ACTION, document, details, at)


def _event_data(document: Document, request: InformationRequest) -> dict[str, Any]:
    return {
        "document_id": str(document.id),
        "external_id": document.external_id,
        "information_request_id": str(request.id),
        "due_at": _aware(request.due_at).isoformat(),
        "url": f"/v1/documents/{document.id}/information-requests",
    }


def ask(
    session: Session,
    *,
    document_id: uuid.UUID,
    question: str,
    lines: list[int],
    kinds: list[AttachmentKind],
    actor: str,
    deadline_days: int,
    now: datetime | None = None,
) -> RequestView:
    """An auditor's question on a document under review; the document waits for the answer."""
    document = _locked(session, document_id, None)
    if not question.strip():
        raise GatewayError(
            "The question is empty.",
            422,
            [Problem("request.invalid", "The question is empty.", "question")],
            code="information.question-empty",
        )
    if document.status != S.UNDER_REVIEW:
        raise GatewayError(
            f"Information is asked while a document is UNDER_REVIEW; this one is "
            f"{document.status}.",
            409,
            code="information.not-under-review",
            params={"status": S(document.status)},
        )
    unknown = sorted(set(lines) - {row.line_no for row in document.lines})
    if unknown:
        message = f"The document has no line(s) {unknown}."
        raise GatewayError(
            message,
            422,
            [Problem("request.invalid", message, "lines")],
            code="document.no-such-lines",
            params={"lines": unknown},
        )
    at = now or utcnow()
    _unless_held(session, document, actor, "information.requested", at)
    request = InformationRequest(
        id=uuid.uuid4(),
        document_id=document.id,
        centre_id=document.centre_id,
        question=question.strip(),
        lines=sorted(set(lines)),
        attachment_kinds=list(dict.fromkeys(k.value for k in kinds)),
        requested_by=actor,
        requested_at=at,
        due_at=at + timedelta(days=deadline_days),
    )
    store.add(session, request)
    session.flush()
    _move(
        session, document, S.INFO_REQUESTED,
        actor=actor, reason="information requested", request_id=request.id, at=at,
    )  # fmt: skip
    asked = {"question": request.question, "lines": request.lines,
             "attachment_kinds": request.attachment_kinds}  # fmt: skip
    details = {"information_request_id": str(request.id), **asked,
               "due_at": _aware(request.due_at).isoformat()}  # fmt: skip
    _audit(session, actor, "information.requested", document, details, at)
    data = {**_event_data(document, request), **asked}
    journal.notify(session, centre_id=document.centre_id, event_type=REQUESTED, data=data, at=at)
    after_commit(session, metrics.INFORMATION_REQUESTS.inc)
    return RequestView(request, status_of(request, at), [], request.requested_by)


def answer(
    session: Session,
    *,
    document_id: uuid.UUID,
    centre_id: int,
    text: str,
    uploads: list[files.Upload],
    actor: str,
    max_bytes: int,
    max_count: int,
    now: datetime | None = None,
) -> RequestView:
    """The centre's answer to the document's open request: its attachments are checked by
    content and stored by SHA-256, and the document returns to review. Nothing is stored
    when any part is refused."""
    document = _locked(session, document_id, centre_id)
    if not text.strip():
        message = "The answer's text is empty."
        raise GatewayError(
            message,
            422,
            [Problem("request.invalid", message, "text")],
            code="information.answer-empty",
        )
    try:
        checked = files.check(uploads, max_bytes=max_bytes, max_count=max_count)
    except GatewayError as exc:
        code = exc.problems[0].code if exc.problems else "attachment.invalid"
        metrics.ATTACHMENTS_REFUSED.labels(code).inc()
        raise
    request = store.open_request(session, document.id)
    if document.status != S.INFO_REQUESTED or request is None:
        raise GatewayError(
            f"Document {document.id} is {document.status}; no request for information awaits "
            "its answer.",
            409,
            code="information.nothing-awaits",
            params={"status": S(document.status)},
        )
    at = now or utcnow()
    _store_answer(session, request, text.strip(), checked, actor=actor, at=at)
    request.answered_at = at
    _move(
        session, document, S.UNDER_REVIEW,
        actor=actor, reason="information received", request_id=request.id, at=at,
    )  # fmt: skip
    sent = [{"sha256": c.sha256, "filename": c.filename, "content_type": c.content_type,
             "size": c.size} for c in checked]  # fmt: skip
    details = {"information_request_id": str(request.id), "attachments": sent}
    _audit(session, actor, "information.answered", document, details, at)
    data = {**_event_data(document, request), "attachments": len(checked)}
    journal.notify(session, centre_id=document.centre_id, event_type=RECEIVED, data=data, at=at)
    after_commit(session, metrics.INFORMATION_ANSWERS.inc)
    session.flush()
    return exchange(session, document.id, request_ids=[request.id], now=at, for_centre=True)[0]


def _store_answer(
    session: Session,
    request: InformationRequest,
    text: str,
    checked: list[files.Checked],
    *,
    actor: str,
    at: datetime,
) -> InformationAnswer:
    """The answer row and its attachments: each file's bytes once, a link per file sent."""
    unique = {item.sha256: item for item in checked}.values()
    store.store_attachments(
        session,
        [{"sha256": c.sha256, "content_type": c.content_type, "size": c.size, "body": c.data,
          "created_at": at} for c in unique],
    )  # fmt: skip
    reply = InformationAnswer(request_id=request.id, text=text, answered_by=actor, answered_at=at)
    store.add(session, reply)
    session.flush()
    for position, item in enumerate(checked):
        link = AnswerAttachment(
            answer_id=reply.id, position=position, sha256=item.sha256, filename=item.filename
        )
        store.add(session, link)
    return reply


def withdraw(
    session: Session,
    *,
    document_id: uuid.UUID,
    request_id: uuid.UUID,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> RequestView:
    """An auditor takes back the document's open question (the centre cannot answer it, or
    it is no longer needed): the document returns to review without an answer."""
    document = _locked(session, document_id, None)
    request = store.request(session, request_id)
    if request is None or request.document_id != document.id:
        raise NotFoundError("Information request", code="information.no-request")
    if request.answered_at is not None or request.withdrawn_at is not None:
        state = "answered" if request.answered_at is not None else "withdrawn"
        raise _closed_already(request_id, state)
    at = now or utcnow()
    _unless_held(session, document, actor, "information.withdrawn", at)
    request.withdrawn_at, request.withdrawn_by = at, actor
    why = reason.strip() or "information request withdrawn"
    _move(
        session, document, S.UNDER_REVIEW,
        actor=actor, reason=why, request_id=request.id, at=at,
    )  # fmt: skip
    details = {"information_request_id": str(request.id), "reason": reason.strip()}
    _audit(session, actor, "information.withdrawn", document, details, at)
    data = {**_event_data(document, request), "reason": reason.strip()}
    journal.notify(session, centre_id=document.centre_id, event_type=WITHDRAWN, data=data, at=at)
    session.flush()
    return exchange(session, document.id, request_ids=[request.id], now=at)[0]


def answer_request(
    session: Session,
    *,
    request_id: uuid.UUID,
    centre_id: int,
    text: str,
    uploads: list[files.Upload],
    actor: str,
    max_bytes: int,
    max_count: int,
) -> RequestView:
    """``answer`` for a request named by its id (the FHIR door's Communication.basedOn)."""
    found = store.request(session, request_id)
    if found is None or found.centre_id != centre_id:
        raise NotFoundError("CommunicationRequest", code="information.no-request")
    if found.answered_at is not None or found.withdrawn_at is not None:
        state = "answered" if found.answered_at is not None else "withdrawn"
        raise _closed_already(request_id, state)
    return answer(
        session,
        document_id=found.document_id,
        centre_id=centre_id,
        text=text,
        uploads=uploads,
        actor=actor,
        max_bytes=max_bytes,
        max_count=max_count,
    )


def exchange(
    session: Session,
    document_id: uuid.UUID,
    *,
    request_ids: list[uuid.UUID] | None = None,
    now: datetime | None = None,
    for_centre: bool = False,
) -> list[RequestView]:
    """The document's requests (or those named), oldest first, each with its answers;
    ``for_centre``: who asked is named by role."""
    requests = store.requests_of(session, document_id)
    if request_ids is not None:
        requests = [r for r in requests if r.id in request_ids]
    answers = store.answers_of(session, [r.id for r in requests])
    linked: dict[int, list[store.Linked]] = defaultdict(list)
    for item in store.attachments_of(session, [a.id for a in answers]):
        linked[item.answer_id].append(item)
    by_request: dict[uuid.UUID, list[AnswerView]] = defaultdict(list)
    for reply in answers:
        by_request[reply.request_id].append(AnswerView(reply, linked[reply.id]))
    moment = now or utcnow()
    askers = {r.requested_by: r.requested_by for r in requests}
    if for_centre:
        roles = repository.staff_roles(session, actors.user_names(askers))
        askers = {actor: actors.as_seen_by_centre(actor, roles) for actor in askers}
    return [
        RequestView(r, status_of(r, moment), by_request[r.id], askers[r.requested_by])
        for r in requests
    ]


def visible_exchange(
    session: Session, document_id: uuid.UUID, centre_scope: int | None
) -> list[RequestView]:
    """``exchange`` for a caller who may see the document (404 otherwise)."""
    document = documents.get_document(session, document_id, centre_scope)
    if document is None:
        raise NotFoundError("Document", code="document.not-found")
    return exchange(session, document_id, for_centre=centre_scope is not None)


def open_requests_of_centre(
    session: Session, centre_id: int, limit: int = 100
) -> list[RequestView]:
    """A centre's unanswered requests, nearest deadline first (the FHIR door lists them)."""
    now = utcnow()
    found = store.open_requests_of_centre(session, centre_id, limit)
    roles = repository.staff_roles(session, actors.user_names(r.requested_by for r in found))
    return [
        RequestView(r, status_of(r, now), [], actors.as_seen_by_centre(r.requested_by, roles))
        for r in found
    ]


def attachment(session: Session, sha256: str, centre_scope: int | None) -> tuple[Attachment, str]:
    """An attachment's stored bytes and name, for a caller who may see an answer that
    carries it (404 otherwise, and for anything that is no SHA-256)."""
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise NotFoundError("Attachment", code="information.no-attachment")
    found = store.attachment(session, digest, centre_scope)
    if found is None:
        raise NotFoundError("Attachment", code="information.no-attachment")
    return found


def documents_carrying(session: Session, sha256: str) -> list[uuid.UUID]:
    return store.documents_carrying(session, sha256.lower())


def mark_overdue(session: Session, *, now: datetime | None = None) -> int:
    """Tell, once each, of the requests left unanswered past their deadline: an audit
    entry and a ``document.information_overdue`` event; how many were told of."""
    moment = now or utcnow()
    found = store.newly_overdue(session, moment)
    for request, document in found:
        request.overdue_at = moment
        details = {"information_request_id": str(request.id),
                   "due_at": _aware(request.due_at).isoformat(),
                   "requested_by": request.requested_by}  # fmt: skip
        _audit(session, SWEEPER, "information.overdue", document, details, moment)
        journal.notify(
            session,
            centre_id=document.centre_id,
            event_type=OVERDUE,
            data=_event_data(document, request),
            at=moment,
        )
    if found:
        after_commit(session, lambda: metrics.INFORMATION_OVERDUE.inc(len(found)))
    return len(found)


def waiting(session: Session, now: datetime) -> store.Waiting:
    """The open requests' figures for the business signals."""
    return store.waiting(session, now)
