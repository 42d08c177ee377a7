"""Claims from the queue and the document page: claim the selected documents or the next
N of the current filter, release them, and (admins) give a document to an auditor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from gateway.assignment import repository as queue_search
from gateway.assignment import service as assignment
from gateway.domain.bounds import INT32_MAX, fits
from gateway.domain.centres import Role
from gateway.domain.review import ReviewReason
from gateway.errors import GatewayError
from gateway.kit.deps import WriteSession
from gateway.web import views
from gateway.web.kit import AuditorVisit, Refused, WorkspaceRoute
from gateway.web.messages import N_

router = APIRouter(route_class=WorkspaceRoute)


def _ids(texts: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(text) for text in texts[: assignment.MOST_AT_ONCE + 1]]
    except ValueError:
        raise Refused(422, N_("error.invalid")) from None


def _back(text: str, **notice: int) -> str:
    """Back to the queue page the form came from (never elsewhere), with a notice."""
    path, _, query = text.partition("?")
    if path != "/web/queue":
        path, query = "/web/queue", ""
    kept = [(k, v) for k, v in parse_qsl(query) if k not in views.NOTICES]
    return f"{path}?{urlencode([*kept, *notice.items()])}"


@router.post("/queue/selected")
async def selected(
    request: Request,
    visit: AuditorVisit,
    db: WriteSession,
    do: Annotated[str, Form(max_length=20)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Claim or release the documents ticked in the queue."""
    form = await request.form()
    ids = _ids([str(v) for v in form.getlist("id")])
    now = datetime.now(UTC)
    if do == "claim":
        result = assignment.claim(
            db, user=visit.user, actor=visit.actor, document_ids=ids, now=now,
            minutes=visit.state.settings.review_claim_minutes,
        )  # fmt: skip
        notice = {"claimed": len(result.taken), "busy": len(result.held_by_others),
                  "closed": len(result.not_claimable)}  # fmt: skip
    elif do == "release":
        released = assignment.release(
            db, user=visit.user, actor=visit.actor, document_ids=ids, now=now
        )
        notice = {"released": len(released)}
    elif do in ("approve", "deny"):
        return _confirm(visit, db, ids, approve=do == "approve", back=back)
    else:
        raise Refused(422, N_("error.invalid"))
    return RedirectResponse(_back(back, **notice), status_code=303)


@router.post("/queue/claim-next")
async def claim_next(
    request: Request,
    visit: AuditorVisit,
    db: WriteSession,
    count: Annotated[str, Form(max_length=10)] = "10",
) -> Response:
    """Claim the next N unclaimed documents under review of the filter the queue shows."""
    form = views.queue_form({k: str(v) for k, v in (await request.form()).items()})
    if form.problems:
        raise Refused(422, form.problems[0])
    digits = views.latin_number(count)
    if not fits(digits, INT32_MAX) or not 0 < int(digits) <= assignment.MOST_AT_ONCE:
        raise Refused(422, N_("queue.bad_count"))
    result = assignment.claim_next(
        db, user=visit.user, actor=visit.actor, criteria=form.criteria(visit.user.id),
        sort=form.sort, descending=form.descending, count=int(digits), now=datetime.now(UTC),
        minutes=visit.state.settings.review_claim_minutes,
    )  # fmt: skip
    mine = form.query(1, mine="1", status="UNDER_REVIEW")
    return RedirectResponse(
        f"/web/queue?{mine}&{urlencode({'claimed': len(result.taken)})}", status_code=303
    )


@router.post("/documents/{document_id}/claim")
def claim_one(
    document_id: uuid.UUID,
    visit: AuditorVisit,
    db: WriteSession,
    do: Annotated[str, Form(max_length=20)] = "claim",
    to_user: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Claim or release one document; an admin may give it to someone (``do=assign``)."""
    now = datetime.now(UTC)
    minutes = visit.state.settings.review_claim_minutes
    if do == "claim":
        assignment.claim(
            db, user=visit.user, actor=visit.actor, document_ids=[document_id], now=now,
            minutes=minutes,
        )  # fmt: skip
    elif do == "release":
        assignment.release(
            db, user=visit.user, actor=visit.actor, document_ids=[document_id], now=now
        )
    elif do == "assign" and visit.role is Role.ADMIN and fits(to_user, INT32_MAX):
        assignment.reassign(
            db, actor=visit.actor, document_id=document_id, to_user_id=int(to_user), now=now,
            minutes=minutes,
        )  # fmt: skip
    elif do == "assign":
        raise Refused(403, N_("error.forbidden"))
    else:
        raise Refused(422, N_("error.invalid"))
    return RedirectResponse(f"/web/documents/{document_id}?done={do}", status_code=303)


def _confirm(
    visit: AuditorVisit, db: WriteSession, ids: list[uuid.UUID], *, approve: bool, back: str
) -> Response:
    """The confirmation of a bulk decision: how many documents, their total, each one."""
    if not ids:
        raise Refused(422, N_("bulk.none"))
    if len(ids) > assignment.MOST_AT_ONCE:
        raise Refused(422, N_("queue.bad_count"))
    rows = queue_search.documents(db, ids)
    holders = queue_search.holders(db, ids, datetime.now(UTC))
    return visit.render(
        "bulk_confirm.html",
        approve=approve,
        rows=[(d, code, assignment.stamp(d)) for d, code in rows],
        # Another's claim, told before the decision refuses it (an admin acts over it).
        held={i: name for i, (holder, name) in holders.items() if holder != visit.user.id},
        total_amount=sum(d.requested_amount for d, _ in rows),
        reasons=[r.value for r in ReviewReason],
        back=_back(back),
    )


@router.post("/queue/decide")
async def decide_selected(
    request: Request,
    visit: AuditorVisit,
    db: WriteSession,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=60)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve or deny the confirmed documents, each on its own; a result per document."""
    if decision not in ("approve", "deny"):
        raise Refused(422, N_("error.invalid"))
    approve = decision == "approve"
    if not approve and reason not in ReviewReason.__members__.values():
        raise Refused(422, N_("bulk.reason_needed"))
    form = await request.form()
    seen = []
    for text in form.getlist("seen")[: assignment.MOST_AT_ONCE + 1]:
        document_id, _, stamp = str(text).partition("@")
        seen.append((_ids([document_id])[0], stamp))
    said = note.strip() if approve else f"{reason}: {note.strip()}".rstrip(": ")
    outcomes = []
    refused: dict[uuid.UUID, GatewayError] = {}  # told in the page's language, by code
    for document, code, shown in assignment.bulk_targets(db, seen):
        try:
            with db.begin_nested():  # each document on its own: a refusal leaves it as it was
                outcome = assignment.decide_one(
                    db, document, code, shown, approve=approve, reason=said, actor=visit.actor
                )
        except GatewayError as exc:
            outcome = assignment.refused(db, document, code, exc)
            refused[document.id] = exc
        outcomes.append(outcome)
    return visit.render(
        "bulk_result.html",
        approve=approve,
        outcomes=outcomes,
        refused=refused,
        done=sum(1 for o in outcomes if o.done),
        done_amount=sum(o.requested for o in outcomes if o.done),
        back=_back(back),
    )
