"""Batch files: upload (streamed to the spool folder), progress, acknowledgement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway import metrics
from gateway.audit import reads
from gateway.batches import acknowledgement
from gateway.batches import repository as store
from gateway.batches.service import Received, receive
from gateway.batches.spool import Spooled, SpoolWriter
from gateway.errors import GatewayError, NotFoundError
from gateway.kit.db import transaction
from gateway.kit.deps import (
    Caller,
    CentreCaller,
    GatewayState,
    Principal,
    ReadSession,
    State,
    WriteSession,
)
from gateway.kit.http import AUTHENTICATED, errors, format_of, parse_id
from gateway.schemas import BatchOut, BatchStatus, ProblemOut
from gateway.storage.models import Batch
from validators.schema import Format

router = APIRouter(prefix="/v1", tags=["batches"])
PIECE = 1024 * 1024  # bytes handed to the spool writer at once
ACKNOWLEDGEMENT = "GET /v1/batches/{id}/acknowledgement"
ACK_ERRORS = errors(
    *AUTHENTICATED, 404, 409,
    c409="The batch is not finished yet",
    said={404: "Batch not found.",
          409: "The batch is processing; its acknowledgement comes when it is done."},
)  # fmt: skip


def batch_file(form: str) -> dict[str, str]:
    return {
        "type": "string",
        "format": "binary",
        "description": f"A file holding {form} valid against rasa-claim-1.xsd (the same "
        "shape as POST /v1/submissions, with many documents), gzip accepted",
    }


ACK_CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}
ACK_CONTENT = {
    "content": {"application/json": {"schema": {"type": "object"}}, **ACK_CSV["content"]}
}


async def _spool(request: Request, state: GatewayState, fmt: Format) -> Spooled:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise GatewayError(f"Content-Encoding {encoding} is not accepted; send gzip or none.", 415)
    settings = state.settings
    writer = SpoolWriter(
        settings.batch_spool_dir,
        gzip=True if encoding == "gzip" else None,  # None: a gzip body is recognised too
        limit=settings.max_batch_bytes,
        max_ratio=settings.max_gzip_ratio,
        suffix=fmt.value,
    )
    try:
        piece = bytearray()
        async for chunk in request.stream():
            piece += chunk
            if len(piece) >= PIECE:
                await run_in_threadpool(writer.write, bytes(piece))
                piece.clear()
        await run_in_threadpool(writer.write, bytes(piece))
        return await run_in_threadpool(writer.finish)
    except BaseException:
        writer.discard()
        raise


def _receive(
    state: GatewayState, caller: Principal, spooled: Spooled, fmt: Format
) -> tuple[Received, BatchOut]:
    """The batch recorded, and its answer read in the same transaction.

    One of the documented exceptions to one session per request (docs/architecture.md):
    the upload streams to the spool first, holding no session (nor SQLite's writer lock)
    for as long as a large file takes to arrive, then records the batch in a transaction
    of its own, tried again once when the same file from the same centre was committed
    meanwhile (then answered with that batch)."""
    assert caller.centre is not None
    for attempt in range(2):
        try:
            with transaction(state.sessions) as session:
                received = receive(
                    session=session,
                    centre=caller.centre,
                    spooled=spooled,
                    fmt=fmt,
                    folder=state.settings.batch_spool_dir,
                )
                return received, batch_out(session, received.batch)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


@router.post(
    "/batches",
    status_code=202,
    response_model=BatchOut,
    responses=errors(*AUTHENTICATED, 400, 403, 413, 415, 503),
    summary="Upload a batch file (XML or JSON, gzip accepted); processed in the background",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": batch_file("an XML submission")},
                "application/json": {"schema": batch_file("a JSON submission")},
            },
        }
    },
)
async def upload_batch(
    request: Request, response: Response, state: State, caller: CentreCaller
) -> BatchOut:
    """Spool the body to disk while hashing it; 202 with the batch once it is recorded.

    The same file (same decompressed SHA-256) sent again by the same centre answers with
    the batch it already made."""
    fmt = format_of(request.headers.get("content-type"))
    try:
        spooled = await _spool(request, state, fmt)
        received, out = await run_in_threadpool(_receive, state, caller, spooled, fmt)
    except GatewayError:
        metrics.BATCHES.labels("refused").inc()
        raise
    state.dispatcher.notify(received.outbox)
    metrics.BATCHES.labels("replayed" if received.replayed else "received").inc()
    response.headers["Location"] = out.url
    if received.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return out


def _found(session: Session, batch_id: str, caller: Principal) -> Batch:
    found = store.get(session, parse_id(batch_id), caller.centre_scope)
    if found is None:
        raise NotFoundError("Batch")
    return found


@router.get(
    "/batches/{batch_id}",
    response_model=BatchOut,
    responses=errors(*AUTHENTICATED, 404),
    summary="A batch's status and progress",
)
def get_batch(batch_id: str, caller: Caller, session: ReadSession) -> BatchOut:
    return batch_out(session, _found(session, batch_id, caller))


def batch_out(session: Session, batch: Batch) -> BatchOut:
    url = f"/v1/batches/{batch.id}"
    return BatchOut(
        id=str(batch.id),
        status=cast(BatchStatus, batch.status),  # the table's check constraint holds it
        format=batch.format,
        size=batch.size,
        sha256=batch.sha256,
        received_at=batch.received_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
        documents_read=batch.documents_read,
        accepted=batch.accepted_count,
        rejected=batch.rejected_count,
        priced=store.priced_count(session, batch),
        errors=[ProblemOut(**problem) for problem in batch.errors or []],
        submission_id=str(batch.submission_id),
        url=url,
        acknowledgement_url=f"{url}/acknowledgement" if _finished(batch) else None,
    )


def _finished(batch: Batch) -> bool:
    return batch.status in ("done", "failed")


def _head(batch: Batch) -> dict[str, Any]:
    return {
        "id": str(batch.id),
        "status": batch.status,
        "documents": batch.documents_read,
        "accepted": batch.accepted_count,
        "rejected": batch.rejected_count,
        "errors": batch.errors or [],
    }


def _rows(sessions: sessionmaker[Session], batch: Batch) -> Iterator[acknowledgement.Row]:
    """The acknowledgement's rows, read while the response streams, after the request's
    session has committed (a documented exception to one session per request: a batch's
    100,000 rows are not held in memory, nor the request's session open while they go)."""
    with sessions() as session:
        yield from store.acknowledgement_rows(session, batch)


def _acknowledgement(
    state: GatewayState,
    caller: Principal,
    session: Session,
    batch_id: str,
    *,
    as_csv: bool,
    route: str,
) -> StreamingResponse:
    """The acknowledgement as JSON or CSV; staff reading it are recorded as reading ``route``."""
    batch = _found(session, batch_id, caller)
    if not _finished(batch):
        raise GatewayError(
            f"The batch is {batch.status}; its acknowledgement comes when it is done.", 409
        )
    scope = reads.Scope(reads.BATCH, str(batch.id), batch.documents_read)
    reads.record_read(session, caller, route, scope=scope)
    rows = _rows(state.sessions, batch)
    if as_csv:
        name = f"batch-{batch.id}.csv"
        return StreamingResponse(
            acknowledgement.csv_chunks(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return StreamingResponse(
        acknowledgement.json_chunks(_head(batch), rows), media_type="application/json"
    )


@router.get(
    "/batches/{batch_id}/acknowledgement",
    responses={**ACK_ERRORS, 422: errors(422)[422], 200: ACK_CONTENT},
    summary="Per-document outcomes of a finished batch, as JSON or CSV (?format=csv)",
)
def get_acknowledgement(
    batch_id: str,
    caller: Caller,
    session: WriteSession,
    state: State,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> StreamingResponse:
    as_csv = output == "csv"
    route = ACKNOWLEDGEMENT + ("?format=csv" if as_csv else "")
    return _acknowledgement(state, caller, session, batch_id, as_csv=as_csv, route=route)


@router.get(
    "/batches/{batch_id}/acknowledgement.csv",
    responses={**ACK_ERRORS, 200: ACK_CSV},
    summary="Per-document outcomes of a finished batch as CSV",
)
def get_acknowledgement_csv(
    batch_id: str, caller: Caller, session: WriteSession, state: State
) -> StreamingResponse:
    route = f"{ACKNOWLEDGEMENT}.csv"
    return _acknowledgement(state, caller, session, batch_id, as_csv=True, route=route)
