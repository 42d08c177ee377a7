"""POST and GET of submissions."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gateway import metrics
from gateway.audit import reads
from gateway.errors import GatewayError, NotFoundError, OverloadedError
from gateway.kit.deps import Caller, GatewayState, WriteSession, authenticate, require_centre
from gateway.kit.http import AUTHENTICATED, errors, format_of, parse_id, read_body
from gateway.kit.openapi import SUBMISSION_BODY
from gateway.referrals import service as referrals
from gateway.schemas import SubmissionOut
from gateway.storage.models import Document, Submission
from gateway.submissions import repository as submissions
from gateway.submissions.service import Arrival, StoredDocument, StoredSubmission, parse_valid
from gateway.submissions.writer import IngestWriter
from validators.problems import Problem

router = APIRouter(prefix="/v1", tags=["submissions"])

INLINE_PARSE_BYTES = 256 * 1024
IDEMPOTENCY_KEY_LENGTH = 200
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key with the same body answers the first submission again, "
    "without storing it twice (with another body: 422).",
    "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_LENGTH},
}


def idempotency_key_of(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_LENGTH:
        message = f"String should have at most {IDEMPOTENCY_KEY_LENGTH} characters"
        raise GatewayError(
            message, 422, [Problem("request.invalid", message, "header/idempotency-key")]
        )
    return key


# The busiest route of all, so it takes the request alone: no dependencies for FastAPI to
# solve and no response model to validate the answer against (~0.15 ms of a request's
# ~0.9 ms on the event loop, bench/README.md). The OpenAPI document still shows its
# header, answer and errors, and the tests hold the answer to SubmissionOut.
@router.post(
    "/submissions",
    status_code=202,
    response_model=SubmissionOut,
    responses=errors(*AUTHENTICATED, 400, 403, 413, 415, 422, 503),
    summary="Submit documents (XML or JSON)",
    openapi_extra={
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": SUBMISSION_BODY,
    },
)
async def submit(request: Request) -> Response:
    """Validate and durably store a submission; 202 only once it is committed."""
    state: GatewayState = request.app.state.gateway
    caller = require_centre(await authenticate(request, state))
    assert caller.centre is not None
    idempotency_key = idempotency_key_of(request)
    fmt = format_of(request.headers.get("content-type"))
    body = await read_body(request, state.settings.max_body_bytes)
    media = request.headers.get("content-type", "")[:100]
    writer: IngestWriter = request.app.state.ingest_writer
    try:
        writer.admit()  # before the parse: a request refused under overload costs little
        # Small bodies are parsed here (a thread hop would cost more than the parse);
        # large ones in a thread, so that other requests are not held up meanwhile.
        if len(body) <= INLINE_PARSE_BYTES:
            parsed = parse_valid(body, fmt)
        else:
            parsed = await run_in_threadpool(parse_valid, body, fmt)
        arrival = Arrival(caller.centre, body, fmt, media, idempotency_key, parsed)
        stored = await writer.store(arrival, len(parsed.documents))
    except OverloadedError:
        metrics.SUBMISSIONS.labels(fmt.value, "shed").inc()
        raise
    except GatewayError:
        metrics.SUBMISSIONS.labels(fmt.value, "refused").inc()
        raise
    out = submission_out(stored.submission, stored.documents, stored.issued)
    metrics.SUBMISSIONS.labels(
        fmt.value, "replayed" if stored.replayed else out["status"].lower()
    ).inc()
    headers = {"Location": out["url"]}
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        orjson.dumps(out, option=orjson.OPT_UTC_Z),
        status_code=202,
        headers=headers,
        media_type="application/json",
    )


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    responses=errors(*AUTHENTICATED, 404),
    summary="A submission and its documents' statuses",
)
def get_submission(submission_id: str, caller: Caller, session: WriteSession) -> dict[str, Any]:
    found = submissions.get_submission(session, parse_id(submission_id), caller.centre_scope)
    if found is None:
        raise NotFoundError("Submission")
    documents = list(found.documents)
    issued = referrals.issued_by_documents(session=session, ids=[d.id for d in documents])
    out = submission_out(found, documents, issued)
    # Staff see every document's number, status and errors (which may quote a national ID).
    scope = reads.Scope(reads.SUBMISSION, str(found.id), len(out["documents"]))
    reads.record_read(session, caller, "GET /v1/submissions/{id}", scope=scope)
    return out


def _problem(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored problem as ProblemOut shows it."""
    return {
        "code": raw["code"],
        "message": raw["message"],
        "path": raw.get("path"),
        "line": raw.get("line"),
        "severity": raw.get("severity", "error"),
    }


def _problems(document: StoredDocument | Document, severity: str) -> list[dict[str, Any]]:
    return [_problem(p) for p in document.problems if p.get("severity", "error") == severity]


def _outcome(document: StoredDocument | Document) -> str:
    if document.status == "REJECTED":
        return "REJECTED"
    return "ACCEPTED_WITH_WARNINGS" if document.problems else "ACCEPTED"


def _in_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def submission_out(
    submission: StoredSubmission | Submission,
    documents: Sequence[StoredDocument | Document],
    issued: Mapping[uuid.UUID, list[str]],
) -> dict[str, Any]:
    """The answer about a submission, laid out as SubmissionOut (the answer of the POST is
    sent as it is, without the model)."""
    if submission.rejected_count == 0:
        status = "ACCEPTED"
    elif submission.accepted_count == 0:
        status = "REJECTED"
    else:
        status = "PARTIALLY_ACCEPTED"
    return {
        "id": str(submission.id),
        "status": status,
        "format": submission.format,
        "received_at": _in_utc(submission.received_at),
        "document_count": submission.document_count,
        "accepted_count": submission.accepted_count,
        "rejected_count": submission.rejected_count,
        "documents": [
            {
                "id": str(d.id),
                "external_id": d.external_id,
                "kind": d.kind,
                "status": d.status,
                "outcome": _outcome(d),
                "path": d.source_path,
                "errors": _problems(d, "error"),
                "warnings": _problems(d, "warning"),
                "referrals_issued": getattr(d, "referrals_issued", None) or issued.get(d.id, []),
                "url": f"/v1/documents/{d.id}",
            }
            for d in documents
        ],
        "url": f"/v1/submissions/{submission.id}",
    }
