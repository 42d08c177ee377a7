"""Requests for information at the FHIR door: each open request is a CommunicationRequest
to the centre, and a centre answers with a Communication based on it (HCX's
communication flow). The mapping both ways; the work is ``gateway.information``'s.

A Communication's ``payload`` carries the answer: its ``contentString`` items are the
text (joined by blank lines), its ``contentAttachment`` items the files, their bytes in
``data`` (base64) and their names in ``title``. The files are checked as any answer's
are: by content (``gateway.information.files``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.communicationrequest import CommunicationRequest

from gateway.fhir import systems
from gateway.fhir.issues import Issue, StructureError, validate
from gateway.information.files import Upload
from gateway.information.schemas import RequestStatus
from gateway.information.service import RequestView

ATTACHMENT_KIND = f"{systems.BASE}/CodeSystem/attachment-kind"
REQUEST_PREFIX = "CommunicationRequest/"
STATUSES = {
    RequestStatus.OPEN: "active",
    RequestStatus.OVERDUE: "active",
    RequestStatus.ANSWERED: "completed",
    RequestStatus.WITHDRAWN: "revoked",
}


def _instant(at: datetime) -> str:
    """A FHIR instant: stored times come back naive from SQLite, in UTC."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).isoformat()


def communication_request(view: RequestView, centre_code: str) -> CommunicationRequest:
    request = view.request
    document = str(request.document_id)
    payload: list[dict[str, Any]] = [{"contentString": request.question}]
    if request.lines:
        lines = ", ".join(str(n) for n in request.lines)
        payload.append({"contentString": f"Lines asked about: {lines}"})
    resource: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "id": str(request.id),
        "status": STATUSES[view.status],
        "about": [
            {"type": "Claim", "identifier": {"system": systems.DOCUMENT_ID, "value": document}},
            {"reference": f"ClaimResponse/{document}"},
        ],
        "payload": payload,
        "authoredOn": _instant(request.requested_at),
        "occurrencePeriod": {"end": _instant(request.due_at)},
        "requester": {"display": view.requested_by},
        "recipient": [
            {
                "type": "Organization",
                "identifier": {"system": systems.CENTRE_CODE, "value": centre_code},
            }
        ],
    }
    if request.attachment_kinds:
        resource["category"] = [
            {"coding": [{"system": ATTACHMENT_KIND, "code": kind}]}
            for kind in request.attachment_kinds
        ]
    if view.status is RequestStatus.OVERDUE:
        resource["statusReason"] = {"text": "overdue: the answer's deadline has passed"}
    return CommunicationRequest.model_validate(resource)


def read_communication(data: Any) -> tuple[uuid.UUID, str, list[Upload]]:
    """The request a Communication answers, its text and its files; StructureError (422)
    with every issue's place otherwise."""
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind != "Communication":
        raise StructureError([Issue("", "The body must be a Communication.", "not-supported")])
    _, issues = validate(Communication, data, "Communication")
    if issues:
        raise StructureError(issues)
    request_id = _based_on(data.get("basedOn") or [])
    texts: list[str] = []
    uploads: list[Upload] = []
    for index, item in enumerate(data.get("payload") or []):
        where = f"Communication.payload[{index}]"
        if isinstance(item.get("contentString"), str):
            texts.append(item["contentString"])
        elif isinstance(item.get("contentAttachment"), dict):
            uploads.append(_upload(item["contentAttachment"], f"{where}.contentAttachment"))
        else:
            raise StructureError(
                [
                    Issue(
                        where, "Only contentString and contentAttachment are read.", "not-supported"
                    )
                ]
            )
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        raise StructureError(
            [Issue("Communication.payload", "A contentString with the answer's text is required.")]
        )
    return request_id, text, uploads


def _based_on(references: list[Any]) -> uuid.UUID:
    for index, reference in enumerate(references):
        target = reference.get("reference") if isinstance(reference, dict) else None
        if isinstance(target, str) and target.startswith(REQUEST_PREFIX):
            try:
                return uuid.UUID(target.removeprefix(REQUEST_PREFIX))
            except ValueError:
                where = f"Communication.basedOn[{index}].reference"
                raise StructureError([Issue(where, f"{target!r} names no request.")]) from None
    raise StructureError(
        [Issue("Communication.basedOn", "basedOn must name the CommunicationRequest answered.")]
    )


def _upload(attachment: dict[str, Any], where: str) -> Upload:
    data = attachment.get("data")
    if not isinstance(data, str):
        raise StructureError(
            [Issue(where, "The file's bytes must be in data (base64); url is not fetched.")]
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise StructureError([Issue(f"{where}.data", "data is not base64.")]) from None
    title = attachment.get("title")
    return Upload(title if isinstance(title, str) and title else "attachment", raw)


def communication(view: RequestView, centre_code: str) -> Communication:
    """The answer as stored, a Communication based on its request."""
    answer = view.answers[-1]
    payload: list[dict[str, Any]] = [{"contentString": answer.answer.text}]
    payload += [
        {
            "contentAttachment": {
                "contentType": item.content_type,
                "title": item.filename,
                "size": item.size,
                "url": f"/v1/attachments/{item.sha256}",
            }
        }
        for item in answer.attachments
    ]
    return Communication.model_validate(
        {
            "resourceType": "Communication",
            "id": str(answer.answer.id),
            "status": "completed",
            "basedOn": [{"reference": f"{REQUEST_PREFIX}{view.request.id}"}],
            "about": [{"reference": f"ClaimResponse/{view.request.document_id}"}],
            "sent": _instant(answer.answer.answered_at),
            "sender": {
                "type": "Organization",
                "identifier": {"system": systems.CENTRE_CODE, "value": centre_code},
            },
            "payload": payload,
        }
    )
