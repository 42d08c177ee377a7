"""Requests for information over HTTP: an auditor asks, the document's centre answers
(multipart, with attachments), either reads the exchange and downloads its attachments."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from gateway.audit import reads
from gateway.errors import GatewayError
from gateway.information import files
from gateway.information import service as information
from gateway.information.schemas import (
    AnswerOut,
    AttachmentOut,
    InformationRequestIn,
    InformationRequestOut,
    WithdrawIn,
)
from gateway.kit.deps import Auditor, Caller, CentreCaller, State, WriteSession
from gateway.kit.http import (
    AUTHENTICATED,
    BAD_JSON,
    Responses,
    download_response,
    errors,
    parse_id,
    read_body,
)
from validators.problems import Problem

router = APIRouter(prefix="/v1", tags=["information"])
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
# Room in a multipart body beyond its files: the text, part headers and boundaries.
FORM_OVERHEAD = 1024 * 1024
TEXT_LENGTH = 20_000
ANSWER_BODY = {
    "required": True,
    "content": {
        MULTIPART: {
            "schema": {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {
                    "text": {
                        "type": "string",
                        "maxLength": TEXT_LENGTH,
                        "examples": ["The discharge summary of 2026-11-20 is attached."],
                    },
                    "attachments": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "0..GATEWAY_ATTACHMENT_MAX_COUNT files: PDF, JPEG or "
                        "PNG, told by their content, each at most GATEWAY_ATTACHMENT_MAX_BYTES",
                    },
                },
            },
            "encoding": {"attachments": {"contentType": "application/pdf, image/jpeg, image/png"}},
        },
        URLENCODED: {
            "schema": {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "description": "A text-only answer",
                "properties": {
                    "text": {
                        "type": "string",
                        "maxLength": TEXT_LENGTH,
                        "examples": ["No further documents exist: the patient left on day one."],
                    }
                },
            }
        },
    },
}
ATTACHMENT_ANSWER: Responses = {
    200: {
        "description": "The attachment's bytes, to be saved, never shown inline",
        "content": {
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=...",
                "schema": {"type": "string"},
            },
            "X-Content-Type-Options": {"description": "nosniff", "schema": {"type": "string"}},
        },
    }
}


def request_out(view: information.RequestView) -> InformationRequestOut:
    request = view.request
    return InformationRequestOut(
        id=request.id,
        document_id=request.document_id,
        question=request.question,
        lines=list(request.lines),
        attachment_kinds=list(request.attachment_kinds),  # type: ignore[arg-type]
        status=view.status,
        requested_by=view.requested_by,
        requested_at=request.requested_at,
        due_at=request.due_at,
        withdrawn_at=request.withdrawn_at,
        answers=[
            AnswerOut(
                id=item.answer.id,
                text=item.answer.text,
                answered_by=item.answer.answered_by,
                answered_at=item.answer.answered_at,
                attachments=[
                    AttachmentOut(
                        sha256=linked.sha256,
                        filename=linked.filename,
                        content_type=linked.content_type,
                        size=linked.size,
                        url=f"/v1/attachments/{linked.sha256}",
                    )
                    for linked in item.attachments
                ],
            )
            for item in view.answers
        ],
    )


@router.post(
    "/documents/{document_id}/information-requests",
    status_code=201,
    response_model=InformationRequestOut,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        404,
        409,
        422,
        c409="The document is not under review, or another auditor holds it (`document.claimed`)",
        said={
            **BAD_JSON,
            403: "This needs a token of role auditor, admin.",
            404: "Document not found.",
            409: "Information is asked while a document is UNDER_REVIEW; this one is PRICED.",
            422: ("request.invalid", "The document has no line(s) [7]."),
        },
    ),
    summary="Ask the document's centre for information (auditor); the document waits",
)
def ask(
    document_id: str, body: InformationRequestIn, caller: Auditor, session: WriteSession,
    state: State,
) -> InformationRequestOut:  # fmt: skip
    view = information.ask(
        session,
        document_id=parse_id(document_id),
        question=body.question,
        lines=list(body.lines),
        kinds=list(body.attachment_kinds),
        actor=caller.actor,
        deadline_days=state.settings.information_deadline_days,
    )
    return request_out(view)


@router.post(
    "/documents/{document_id}/information-requests/{request_id}/withdraw",
    response_model=InformationRequestOut,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        404,
        409,
        422,
        c409="The request was answered or withdrawn already, or another auditor holds the "
        "document (`document.claimed`)",
        said={
            **BAD_JSON,
            403: "This needs a token of role auditor, admin.",
            404: "Information request not found.",
            409: "Request 5b0e2c1e-8f4a-4d52-9a57-3c1f0f3b2a10 was answered already.",
            422: ("request.invalid", "String should have at most 2000 characters"),
        },
    ),
    summary="Take back an open request for information (auditor); back to review",
)
def withdraw(
    document_id: str, request_id: str, body: WithdrawIn, caller: Auditor, session: WriteSession
) -> InformationRequestOut:
    view = information.withdraw(
        session,
        document_id=parse_id(document_id),
        request_id=parse_id(request_id),
        reason=body.reason,
        actor=caller.actor,
    )
    return request_out(view)


@router.get(
    "/documents/{document_id}/information-requests",
    response_model=list[InformationRequestOut],
    responses=errors(*AUTHENTICATED, 404, said={404: "Document not found."}),
    summary="The document's requests for information and their answers, oldest first",
)
def list_requests(
    document_id: str, caller: Caller, session: WriteSession
) -> list[InformationRequestOut]:
    key = parse_id(document_id)
    views = information.visible_exchange(session, key, caller.centre_scope)
    route = "GET /v1/documents/{id}/information-requests"
    reads.record_read(session, caller, route, documents=[key])
    return [request_out(view) for view in views]


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def answer_form(
    request: Request, caller: CentreCaller, state: State
) -> tuple[str, list[files.Upload]]:
    """The answer's text and files, read within the size the attachment limits allow
    (413 beyond) once the caller is known to be a centre. A text-only answer may also come
    form-urlencoded."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in (MULTIPART, URLENCODED):
        message = f"Content-Type {media or '(none)'} is not accepted; send {MULTIPART}."
        raise GatewayError(message, 415)
    settings = state.settings
    limit = settings.attachment_max_bytes * max(settings.attachment_max_count, 1) + FORM_OVERHEAD
    body = await read_body(request, limit)
    parser: MultiPartParser | FormParser
    if media == MULTIPART:
        parser = MultiPartParser(
            request.headers, _once(body), max_files=settings.attachment_max_count + 1,
            max_fields=5, max_part_size=TEXT_LENGTH * 4,
        )  # fmt: skip
    else:
        parser = FormParser(request.headers, _once(body))
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise GatewayError(exc.message, 400, [Problem("request.invalid", exc.message)]) from None
    try:
        return await _answer_parts(form)
    finally:
        await form.close()


async def _answer_parts(form: FormData) -> tuple[str, list[files.Upload]]:
    texts = [v for v in form.getlist("text") if isinstance(v, str)]
    if len(texts) != 1 or not texts[0].strip() or len(texts[0]) > TEXT_LENGTH:
        message = f"One field text of 1 to {TEXT_LENGTH} characters is required."
        raise GatewayError(message, 422, [Problem("request.invalid", message, "text")])
    uploads = []
    for index, item in enumerate(form.getlist("attachments")):
        if not isinstance(item, UploadFile):
            message = "Each attachment must be a file part (with a filename)."
            path = f"attachments[{index}]"
            raise GatewayError(message, 422, [Problem("request.invalid", message, path)])
        uploads.append(files.Upload(item.filename or "attachment", await item.read()))
    return texts[0], uploads


AnswerForm = Annotated[tuple[str, list[files.Upload]], Depends(answer_form)]


@router.post(
    "/documents/{document_id}/information",
    status_code=201,
    response_model=InformationRequestOut,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        404,
        409,
        413,
        415,
        422,
        c409="No request for information awaits an answer",
        said={
            403: "Only a centre's token may submit documents.",
            404: "Document not found.",
            409: "Document 0b7e5c1e-8f4a-4d52-9a57-3c1f0f3b2a10 is UNDER_REVIEW; no request "
            "for information awaits its answer.",
            413: "The body is larger than 111149056 bytes.",
            415: "Content-Type application/json is not accepted; send multipart/form-data.",
            422: (
                "attachment.unsupported-type",
                "The file is not a whole PDF, JPEG or PNG (its content was checked).",
            ),
        },
    ),
    summary="Answer the open request for information (the document's centre); back to review",
    openapi_extra={"requestBody": ANSWER_BODY},
)
def answer(
    document_id: str, form: AnswerForm, caller: CentreCaller, session: WriteSession, state: State
) -> InformationRequestOut:
    assert caller.centre is not None
    text, uploads = form
    view = information.answer(
        session,
        document_id=parse_id(document_id),
        centre_id=caller.centre.id,
        text=text,
        uploads=uploads,
        actor=caller.actor,
        max_bytes=state.settings.attachment_max_bytes,
        max_count=state.settings.attachment_max_count,
    )
    return request_out(view)


@router.get(
    "/attachments/{sha256}",
    response_class=Response,
    responses={
        **ATTACHMENT_ANSWER,
        **errors(*AUTHENTICATED, 404, said={404: "Attachment not found."}),
    },
    summary="Download an attachment of an answer (its centre, or staff); never inline",
)
def download(sha256: str, caller: Caller, session: WriteSession) -> Response:
    stored, filename = information.attachment(session, sha256, caller.centre_scope)
    if caller.centre_scope is None:
        shown = information.documents_carrying(session, stored.sha256)
        reads.record_read(session, caller, "GET /v1/attachments/{sha256}", documents=shown)
    return download_response(stored.body, stored.content_type, filename)
