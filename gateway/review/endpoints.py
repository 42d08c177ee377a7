"""Moves after pricing: an auditor reviews lines and decides, a centre appeals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gateway.documents.endpoints import document_out
from gateway.domain.bounds import LineNo, Quantity, Rials
from gateway.domain.review import ReviewAction, ReviewReason
from gateway.kit.deps import Auditor, CentreCaller, State, WriteSession
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors, parse_id
from gateway.review import service as reviews
from gateway.schemas import DocumentOut

router = APIRouter(prefix="/v1", tags=["review"])
MOVE_ERRORS = errors(
    *AUTHENTICATED, 400, 403, 404, 409, 422,
    c409="Not allowed in the document's status, or another auditor holds the document "
    "(`document.claimed`; an admin's token acts over a claim)",
    said={**BAD_JSON, 404: "Document not found.",
          422: ("request.invalid", "Input should be 'accept', 'reduce' or 'deny'")},
)  # fmt: skip


class LineReviewIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "reduce",
                    "reason": "review-quantity-not-justified",
                    "quantity": 2,
                    "note": "Four bed-days billed; the discharge summary supports two.",
                }
            ]
        }
    )
    action: ReviewAction
    reason: ReviewReason | None = Field(
        None, description="Required to reduce or deny: the review deduction's reason code"
    )
    quantity: Quantity | None = Field(None, description="Reduce to this payable quantity")
    amount: Rials | None = Field(None, description="Reduce to this payable amount (rials)")
    note: str = Field("", max_length=2000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"decision": "approve", "reason": "Lines reviewed."}]}
    )
    decision: Annotated[str, Field(pattern="^(approve|deny)$")]
    reason: str = Field("", max_length=2000)


class AppealIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "The second bed-day is in the attached discharge summary.",
                    "lines": [1],
                }
            ]
        }
    )
    reason: str = Field(min_length=1, max_length=4000)
    lines: list[int] = Field(default_factory=list, description="Line numbers contested")


@router.post(
    "/documents/{document_id}/lines/{line_no}/review",
    response_model=DocumentOut,
    responses=MOVE_ERRORS,
    summary="Accept, reduce or deny one line of a document under review (auditor)",
)
def review_line(
    document_id: str, line_no: LineNo, body: LineReviewIn, caller: Auditor, session: WriteSession
) -> DocumentOut:
    key = parse_id(document_id)
    reviews.review(
        session,
        document_id=key,
        line_no=line_no,
        action=body.action,
        reason=body.reason,
        quantity=body.quantity,
        amount=body.amount,
        note=body.note,
        actor=caller.actor,
    )
    return document_out(session, key, None)


@router.post(
    "/documents/{document_id}/decision",
    response_model=DocumentOut,
    responses=MOVE_ERRORS,
    summary="Approve or deny a document under review (auditor)",
)
def decide(
    document_id: str, body: DecisionIn, caller: Auditor, session: WriteSession
) -> DocumentOut:
    key = parse_id(document_id)
    reviews.decide(
        session,
        document_id=key,
        approve=body.decision == "approve",
        reason=body.reason,
        actor=caller.actor,
    )
    return document_out(session, key, None)


@router.post(
    "/documents/{document_id}/appeal",
    response_model=DocumentOut,
    responses=MOVE_ERRORS,
    summary="Contest a decision within the appeal window (the document's centre)",
)
def appeal(
    document_id: str, body: AppealIn, caller: CentreCaller, session: WriteSession, state: State
) -> DocumentOut:
    key = parse_id(document_id)
    assert caller.centre is not None
    reviews.appeal(
        session,
        document_id=key,
        centre_id=caller.centre.id,
        reason=body.reason,
        lines=body.lines,
        actor=caller.actor,
        window_days=state.settings.appeal_window_days,
    )
    return document_out(session, key, caller.centre.id)
