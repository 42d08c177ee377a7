"""Batches with their progress: the files centres upload, newest first, and one batch with
its figures, its problems and its documents (auditors and admins, like the queue)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.audit import reads
from gateway.batches import repository as batches
from gateway.domain import bounds
from gateway.kit.deps import WriteSession
from gateway.storage.models import BATCH_STATUSES, Batch
from gateway.web import views
from gateway.web.kit import AuditorVisit, Refused, WorkspaceRoute
from gateway.web.messages import N_

router = APIRouter(route_class=WorkspaceRoute)
FINISHED = ("done", "failed")


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a batch has come: of the documents read from its file, those handled (priced
    or rejected); finished once the file is read to its end and each one is handled."""

    read: int
    handled: int
    finished: bool

    @property
    def percent(self) -> int:
        if not self.read:
            return 100 if self.finished else 0
        return self.handled * 100 // self.read


def progress_of(batch: Batch, priced: int) -> Progress:
    handled = min(batch.documents_read, priced + batch.rejected_count)
    finished = batch.status in FINISHED and handled == batch.documents_read
    return Progress(batch.documents_read, handled, finished)


def age_of(received: datetime, now: datetime) -> tuple[str, int]:
    """How long ago a batch came, as a message key and a number: minutes, hours or days."""
    aware = received if received.tzinfo else received.replace(tzinfo=UTC)
    minutes = max(0, int((now - aware).total_seconds() // 60))
    if minutes < 60:
        return N_("batches.age_minutes"), minutes
    if minutes < 48 * 60:
        return N_("batches.age_hours"), minutes // 60
    return N_("batches.age_days"), minutes // (24 * 60)


def _page_number(text: str) -> int:
    digits = views.latin_number(text)
    return int(digits) if bounds.fits(digits, 99_999) and int(digits) > 0 else 1


def _size(text: str) -> int:
    digits = views.latin_number(text)
    return int(digits) if digits in {str(n) for n in views.PAGE_SIZES} else views.QUEUE_PAGE


@router.get("/batches")
def batch_list(request: Request, visit: AuditorVisit, db: WriteSession) -> Response:
    params = request.query_params
    centre = params.get("centre", "").strip()[:20]
    status = params.get("status", "").strip()
    problems = [N_("batches.bad_status")] if status and status not in BATCH_STATUSES else []
    size = _size(params.get("size", ""))
    filters = {"centre": centre, "status": status, "size": str(size)}
    total, rows = 0, list[batches.BatchRow]()
    page = views.paging(0, size, 1)
    if not problems:
        wanted = {"centre_code": centre or None, "status": status or None}
        total = batches.count_batches(db, **wanted)
        page = views.paging(total, size, _page_number(params.get("page", "1")))
        rows = batches.list_batches(db, **wanted, limit=page.size, offset=page.offset)

    def query(number: int) -> str:
        return urlencode({**{k: v for k, v in filters.items() if v}, "page": number})

    now = datetime.now(UTC)
    return visit.render(
        "batches.html",
        centre=centre,
        status=status,
        size=size,
        statuses=BATCH_STATUSES,
        sizes=views.PAGE_SIZES,
        problems=problems,
        rows=[(row, progress_of(row.batch, row.priced), age_of(row.batch.received_at, now))
              for row in rows],
        **page.shown(len(rows), lambda n: f"/web/batches?{query(n)}"),
    )  # fmt: skip


def _batch_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Refused(404, N_("error.not_found")) from None


@router.get("/batches/{batch_id}")
def batch_page(batch_id: str, request: Request, visit: AuditorVisit, db: WriteSession) -> Response:
    """One batch: its figures, why it failed (if it did), and its documents in file order,
    a page at a time (only the rejected ones when asked); the page is one audited read."""
    batch = batches.get(db, _batch_id(batch_id), None)
    if batch is None:
        raise Refused(404, N_("error.not_found"))
    params = request.query_params
    rejected_only = params.get("rejected", "") == "1"
    size = _size(params.get("size", ""))
    total = batches.count_outcomes(db, batch, rejected_only=rejected_only)
    page = views.paging(total, size, _page_number(params.get("page", "1")))
    shown = batches.outcomes(
        db, batch, rejected_only=rejected_only, limit=page.size, offset=page.offset
    )
    kept = {"rejected": "1" if rejected_only else "", "size": str(size)}

    def query(number: int) -> str:
        return urlencode({**{k: v for k, v in kept.items() if v}, "page": number})

    reads.record_read(
        db, visit, "GET /web/batches/{id}",
        documents=[o.document_id for o in shown if o.document_id is not None],
        query=f"batch={batch.id}&{query(page.page)}", total=total,
    )  # fmt: skip
    priced = batches.priced_count(db, batch)
    centre = batches.batch_centre(db, batch)
    here = f"/web/batches/{batch.id}"
    return visit.render(
        "batch.html",
        batch=batch,
        centre_row=centre,
        priced=priced,
        progress=progress_of(batch, priced),
        statuses=sorted(batches.statuses_of(db, batch).items()),
        rejected_only=rejected_only,
        outcomes=shown,
        **page.shown(len(shown), lambda n: f"{here}?{query(n)}"),
    )
