"""Requests for information as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.bounds import LineNo


class AttachmentKind(StrEnum):
    """The kind of document an auditor asks the centre to attach."""

    DISCHARGE_SUMMARY = "discharge-summary"
    REPORT = "report"
    IMAGE = "image"
    PRESCRIPTION = "prescription"
    OTHER = "other"


class RequestStatus(StrEnum):
    """open: awaiting the centre's answer; overdue: still awaited after the deadline;
    answered: the centre answered and the document is back under review; withdrawn: an
    auditor took the question back and the document is back under review."""

    OPEN = "open"
    OVERDUE = "overdue"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"


class InformationRequestIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "Please send the discharge summary supporting the second bed-day.",
                    "lines": [1],
                    "attachment_kinds": ["discharge-summary"],
                }
            ]
        }
    )
    question: str = Field(min_length=1, max_length=4000)
    lines: list[LineNo] = Field(
        default_factory=list, max_length=200, description="The document's lines asked about"
    )
    attachment_kinds: list[AttachmentKind] = Field(
        default_factory=list, max_length=5, description="Kinds of attachment wanted"
    )


class AttachmentOut(BaseModel):
    sha256: str = Field(description="SHA-256 of the bytes, hex: the attachment's address")
    filename: str = Field(description="The sender's name, with the extension of its real type")
    content_type: str = Field(description="application/pdf, image/jpeg or image/png, as checked")
    size: int = Field(description="Bytes")
    url: str = Field(description="Where to download it (always as an attachment)")


class AnswerOut(BaseModel):
    id: int
    text: str
    answered_by: str
    answered_at: datetime
    attachments: list[AttachmentOut]


class InformationRequestOut(BaseModel):
    id: uuid.UUID
    document_id: uuid.UUID
    question: str
    lines: list[int]
    attachment_kinds: list[AttachmentKind]
    status: RequestStatus
    requested_by: str
    requested_at: datetime
    due_at: datetime
    withdrawn_at: datetime | None = Field(None, description="When an auditor took it back")
    answers: list[AnswerOut]


class WithdrawIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "The centre reports no discharge summary exists."}]
        }
    )
    reason: str = Field("", max_length=2000, description="Why; told to the centre")
