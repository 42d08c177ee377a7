"""The FHIR R4 door: POST Claims (or Bundles of them), GET ClaimResponses; a centre's
requests for information as CommunicationRequests, its answers as Communications.

Every answer is a FHIR resource: a ClaimResponse, a Bundle of them, or an
OperationOutcome for anything refused (401, 403, 404, 413, 415, 422, 500). JSON by
default; XML when the request asks for it (Accept, ``_format``) or was itself XML.
"""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from gateway import metrics
from gateway.audit import reads
from gateway.domain.centres import Role
from gateway.eligibility.endpoints import spend_inquiry_budget
from gateway.errors import ForbiddenError, GatewayError, NotFoundError, OverloadedError
from gateway.fhir import eligibility as coverage
from gateway.fhir import referral as fhir_referral
from gateway.fhir import service, systems
from gateway.fhir.capability import capability_statement
from gateway.fhir.issues import Issue, StructureError
from gateway.fhir.parse import Syntax, syntax_of
from gateway.fhir.response import operation_outcome
from gateway.fhir.systems import JSON_MEDIA, XML_MEDIA
from gateway.kit import openapi
from gateway.kit.db import transaction
from gateway.kit.deps import (
    GatewayState,
    ReadSession,
    State,
    WriteSession,
    authenticate,
    authenticate_here,
    require_centre,
)
from gateway.kit.frontdoor import Refusal
from gateway.kit.http import AUTHENTICATED, errors, read_body
from gateway.storage.models import Centre

router = APIRouter(prefix="/fhir", tags=["fhir"])
log = logging.getLogger(__name__)

_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    503: "transient",
}
_CLAIM_EXAMPLE: dict[str, Any] = {
    "resourceType": "Claim",
    "identifier": [{"system": "urn:example:his", "value": "OP-2026-0042"}],
    "contained": [
        {"resourceType": "Patient", "id": "pat", "gender": "female", "birthDate": "1980-05-01",
         "identifier": [{"system": systems.NATIONAL_ID, "value": "6383233564"},
                        {"system": systems.INSURANCE_NUMBER, "value": "55501234"}]},
        {"resourceType": "Practitioner", "id": "doc",
         "identifier": [{"system": systems.MEDICAL_COUNCIL, "value": "141507"}]},
    ],
    "status": "active",
    "type": {"coding": [{"system": systems.CLAIM_TYPE, "code": "professional"}]},
    "use": "claim",
    "patient": {"reference": "#pat"},
    "billablePeriod": {"start": "2026-11-18", "end": "2026-11-18"},
    "created": "2026-11-20",
    "provider": {"reference": "#doc"},
    "priority": {"coding": [{"code": "normal"}]},
    "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "basic"}}],
    "item": [{"sequence": 1, "quantity": {"value": 1},
              "productOrService": {"coding": [{"system": systems.TARIFF_SERVICE,
                                               "code": "970000"}]},
              "unitPrice": {"value": 738000, "currency": systems.CURRENCY}}],
}  # fmt: skip


def _xml_text(resource: FHIRAbstractModel) -> str:
    dumped: str | bytes = resource.model_dump_xml()  # bytes, whatever the stub says
    return dumped.decode() if isinstance(dumped, bytes) else dumped


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 Claim, or a Bundle of Claims (JSON or XML)",
        "content": openapi.fhir_content(
            "Claim",
            "Bundle",
            example=_CLAIM_EXAMPLE,
            xml_example=_xml_text(Claim.model_validate(_CLAIM_EXAMPLE)),
        ),
    }
}
_OUTCOME_EXAMPLE = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login",
               "diagnostics": "auth.required: A valid bearer token is required."}],
}  # fmt: skip


def _answers(ok: str, *codes: int, resources: tuple[str, ...]) -> dict[int | str, Any]:
    """The door's documented answers: ``resources`` on success, an OperationOutcome for
    each refusal (with Retry-After on 429)."""
    out: dict[int | str, Any] = {
        200: {"description": ok, "content": openapi.fhir_content(*resources)}
    }
    for code, described in errors(*codes).items():
        refusal = {
            "description": described["description"],
            "content": openapi.fhir_content("OperationOutcome", example=_OUTCOME_EXAMPLE),
        }
        if "headers" in described:
            refusal["headers"] = described["headers"]
        out[code] = refusal
    return out


_SUBMIT_ANSWERS = _answers(
    "A ClaimResponse for a Claim, a Bundle of ClaimResponses for a Bundle",
    *AUTHENTICATED,
    400,
    403,
    413,
    415,
    422,
    503,
    resources=("ClaimResponse", "Bundle"),
)


def wants_xml(request: Request, syntax: Syntax | None) -> bool:
    """``_format`` first, then Accept, then the request's own syntax; JSON otherwise."""
    asked = request.query_params.get("_format", "").lower()
    if asked:
        return "xml" in asked
    accept = request.headers.get("accept", "").lower()
    if "json" in accept:
        return False
    if "xml" in accept:
        return True
    return syntax is Syntax.XML


def render(
    resource: FHIRAbstractModel, xml: bool, status_code: int = 200, **headers: str
) -> Response:
    if xml:
        dumped: str | bytes = resource.model_dump_xml()  # bytes, whatever the stub says
        content = dumped.encode() if isinstance(dumped, str) else dumped
        return Response(content, status_code, headers, media_type=f"{XML_MEDIA}; charset=utf-8")
    return Response(resource.model_dump_json(), status_code, headers, media_type=JSON_MEDIA)


def refusal(exc: Exception, xml: bool) -> Response:
    """An OperationOutcome for anything that stops a request."""
    if isinstance(exc, StructureError):
        return render(operation_outcome(exc.issues), xml, exc.status_code)
    if isinstance(exc, GatewayError):
        code = _ISSUE_CODES.get(exc.status_code, "invalid")
        if any(p.code == "submission.too-many-documents" for p in exc.problems):
            code = "too-costly"
        issues = [Issue(p.path or "", f"{p.code}: {p.message}", code) for p in exc.to_problems()]
        return render(operation_outcome(issues), xml, exc.status_code, **exc.headers)
    log.exception("unhandled error in the FHIR door")
    issue = Issue("", "Internal error; nothing was half-stored.", "exception")
    return render(operation_outcome([issue]), xml, 500)


def overloaded_answer(seconds: int, scope: Scope) -> Refusal:
    """The front door's 503 for a claim (``kit.frontdoor``): an OperationOutcome in the
    syntax the caller asked for, rendered once for each Retry-After and syntax."""
    request = Request(scope)
    syntax = syntax_of(request.headers.get("content-type", ""))
    return _overloaded(seconds, wants_xml(request, syntax))


@functools.cache
def _overloaded(seconds: int, xml: bool) -> Refusal:
    answer = refusal(OverloadedError(seconds), xml)
    headers = [(k, v) for k, v in answer.raw_headers if k != b"content-length"]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    return Refusal(answer.status_code, headers, bytes(answer.body))


async def _submit(request: Request, state: State) -> Response:
    media = request.headers.get("content-type", "")
    syntax = syntax_of(media)
    xml = wants_xml(request, syntax)
    try:
        caller = require_centre(await authenticate(request, state))
        assert caller.centre is not None
        if syntax is None:
            raise GatewayError(
                f"Content-Type {media or '(none)'} is not accepted; send {JSON_MEDIA} or "
                f"{XML_MEDIA}.",
                415,
            )
        body = await read_body(request, state.settings.max_body_bytes)
        done = await run_in_threadpool(_submit_here, state, caller.centre, body, syntax, media)
    except Exception as exc:
        metrics.SUBMISSIONS.labels("fhir", "refused").inc()
        return refusal(exc, xml)
    state.dispatcher.notify(done.outbox)
    outcome = "ACCEPTED" if not done.rejected else "REJECTED" if not done.accepted else "PARTIAL"
    metrics.SUBMISSIONS.labels("fhir", outcome.lower()).inc()
    headers = {}
    if done.resource.get_resource_type() == "ClaimResponse":
        headers["Location"] = f"/fhir/ClaimResponse/{done.resource.id}"
    return render(done.resource, xml, 200, **headers)


def _submit_here(
    state: GatewayState, centre: Centre, body: bytes, syntax: Syntax, media: str
) -> service.Submitted:
    """Check and map the body, then store it in a transaction of its own, taken only once
    the body is read, parsed and mapped (no connection, nor SQLite's writer lock, is held
    meanwhile). One of the documented exceptions to one session per request
    (docs/architecture.md): the transaction is tried again once when a concurrent request
    took the same document number (the second pass rejects it as a duplicate), and the
    outbox is told only after the commit."""
    prepared = service.prepare(centre, body, syntax, media[:100])
    for attempt in range(2):
        try:
            with transaction(state.sessions) as session:
                return service.store(session, state.settings, centre, prepared)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


@router.get(
    "/metadata",
    summary="The door's CapabilityStatement: what it supports (no token needed)",
    response_class=Response,
    responses={
        200: {
            "description": "The CapabilityStatement",
            "content": openapi.fhir_content("CapabilityStatement"),
        }
    },
)
def metadata(request: Request) -> Response:
    return render(capability_statement(), wants_xml(request, None))


@router.post(
    "/Claim/$submit",
    summary="Submit a Claim or a Bundle of Claims; answered with ClaimResponse(s)",
    response_class=Response,
    responses=_SUBMIT_ANSWERS,
    openapi_extra=_BODY,
)
async def submit_claim(request: Request, state: State) -> Response:
    return await _submit(request, state)


@router.post(
    "/Claim",
    summary="Create a Claim (the same as $submit); answered with ClaimResponse(s)",
    response_class=Response,
    responses=_SUBMIT_ANSWERS,
    openapi_extra=_BODY,
)
async def create_claim(request: Request, state: State) -> Response:
    return await _submit(request, state)


@router.get(
    "/ClaimResponse/{claim_response_id}",
    summary="The ClaimResponse of a document as it stands now (queued, complete, partial, error)",
    response_class=Response,
    responses=_answers("The ClaimResponse", *AUTHENTICATED, 404, resources=("ClaimResponse",)),
)
def get_claim_response(
    claim_response_id: str, request: Request, state: State, session: WriteSession
) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = authenticate_here(request, state)
        found = service.read(session, claim_response_id, caller.centre_scope)
        if found is None:
            raise NotFoundError("ClaimResponse")
        route = "GET /fhir/ClaimResponse/{id}"
        reads.record_read(session, caller, route, documents=[uuid.UUID(claim_response_id)])
    except Exception as exc:
        session.rollback()  # a refusal is answered, not raised: it must store nothing
        return refusal(exc, xml)
    return render(found, xml)


_REFERRAL_EXAMPLE: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "status": "active",
    "intent": "order",
    "category": [{"coding": [{"system": fhir_referral.SNOMED,
                              "code": fhir_referral.PATIENT_REFERRAL}]}],
    "subject": {"identifier": {"system": systems.NATIONAL_ID, "value": "0013542419"}},
    "requester": {"identifier": {"system": systems.MEDICAL_COUNCIL, "value": "112233"}},
    "performerType": {"coding": [{"system": fhir_referral.CARE_LEVEL, "code": "2"},
                                 {"system": fhir_referral.SPECIALTY, "code": "cardiology"}]},
    "reasonCode": [{"coding": [{"system": fhir_referral.ICD10, "code": "I20.9"}],
                    "text": "chest pain on effort"}],
    "authoredOn": "2026-11-20",
}  # fmt: skip
_REFERRAL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 ServiceRequest: a family physician's referral",
        "content": openapi.fhir_content(
            "ServiceRequest",
            example=_REFERRAL_EXAMPLE,
            xml_example=_xml_text(ServiceRequest.model_validate(_REFERRAL_EXAMPLE)),
        ),
    }
}
_CREATED_REFERRAL = _answers(
    "unused", *AUTHENTICATED, 400, 403, 413, 415, 422, resources=("ServiceRequest",)
)
_CREATED_REFERRAL.pop(200)
_CREATED_REFERRAL[201] = {
    "description": "The referral issued, its code in identifier and id",
    "content": openapi.fhir_content("ServiceRequest"),
}


@router.post(
    "/ServiceRequest",
    status_code=201,
    summary="Issue a referral (a level-1 centre); answered with it and its referral code",
    response_class=Response,
    responses=_CREATED_REFERRAL,
    openapi_extra=_REFERRAL_BODY,
)
async def create_service_request(request: Request, state: State, session: WriteSession) -> Response:
    media = request.headers.get("content-type", "")
    syntax = syntax_of(media)
    xml = wants_xml(request, syntax)
    try:
        caller = require_centre(await authenticate(request, state))
        assert caller.centre is not None
        if syntax is None:
            raise GatewayError(
                f"Content-Type {media or '(none)'} is not accepted; send {JSON_MEDIA} or "
                f"{XML_MEDIA}.",
                415,
            )
        body = await read_body(request, state.settings.max_body_bytes)
        made = await run_in_threadpool(
            service.issue_referral,
            session,
            state.settings,
            caller.centre,
            body,
            syntax,
            caller.actor,
        )
    except Exception as exc:
        session.rollback()  # a refusal is answered, not raised: it must store nothing
        return refusal(exc, xml)
    return render(made, xml, 201, Location=f"/fhir/ServiceRequest/{made.id}")


@router.get(
    "/ServiceRequest/{code}",
    summary="A referral as a ServiceRequest (the issuing centre and the centres that used it)",
    response_class=Response,
    responses=_answers(
        "The ServiceRequest", *AUTHENTICATED, 403, 404, resources=("ServiceRequest",)
    ),
)
def get_service_request(
    code: str, request: Request, state: State, session: WriteSession
) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = require_centre(authenticate_here(request, state))
        assert caller.centre is not None
        found = service.read_referral(session, state.settings, code, caller.centre, caller.actor)
    except Exception as exc:
        session.rollback()  # a refusal is answered, not raised: it must store nothing
        return refusal(exc, xml)
    return render(found, xml)


@router.get(
    "/ExplanationOfBenefit/{eob_id}",
    summary="The remittance advice of a priced document as an ExplanationOfBenefit",
    response_class=Response,
    responses=_answers(
        "The ExplanationOfBenefit", *AUTHENTICATED, 404, resources=("ExplanationOfBenefit",)
    ),
)
def get_explanation_of_benefit(
    eob_id: str, request: Request, state: State, session: WriteSession
) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = authenticate_here(request, state)
        found = service.explanation(session, eob_id, caller.centre_scope)
        if found is None:
            raise NotFoundError("ExplanationOfBenefit")
        route = "GET /fhir/ExplanationOfBenefit/{id}"
        reads.record_read(session, caller, route, documents=[uuid.UUID(eob_id)])
    except Exception as exc:
        session.rollback()  # a refusal is answered, not raised: it must store nothing
        return refusal(exc, xml)
    return render(found, xml)


@router.get(
    "/Claim",
    summary="Search the claims to a supplementary insurer for a month of service, each with "
    "the basic insurer's ClaimResponse as the prior payer's adjudication (finance)",
    response_class=Response,
    responses=_answers(
        "A collection Bundle: per document a Claim and the basic insurer's ClaimResponse",
        *AUTHENTICATED,
        403,
        422,
        resources=("Bundle",),
    ),
)
def search_supplementary_claims(
    insurer: Annotated[
        str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", examples=["ALBORZ-SUP"])
    ],
    period: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    request: Request,
    state: State,
    session: WriteSession,
) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = authenticate_here(request, state)
        if caller.role not in (Role.FINANCE, Role.ADMIN):
            raise ForbiddenError("This needs a token of role finance, admin.")
        bundle, documents = service.supplementary_claims(session, insurer=insurer, period=period)
        if documents:
            route = "GET /fhir/Claim"
            reads.record_read(session, caller, route, documents=documents)
    except Exception as exc:
        session.rollback()  # a refusal is answered, not raised: it must store nothing
        return refusal(exc, xml)
    return render(bundle, xml)


_ELIGIBILITY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 CoverageEligibilityRequest (JSON or XML); see "
        "docs/eligibility.md for the identifiers and the care-setting extension it reads",
        "content": openapi.fhir_content(
            "CoverageEligibilityRequest",
            example=coverage.EXAMPLE,
            xml_example=_xml_text(CoverageEligibilityRequest.model_validate(coverage.EXAMPLE)),
        ),
    }
}


@router.post(
    "/CoverageEligibilityRequest/$submit",
    summary="Check a patient's coverage at this centre before care; answered with a "
    "CoverageEligibilityResponse",
    response_class=Response,
    responses=_answers(
        "The CoverageEligibilityResponse",
        *AUTHENTICATED,
        400,
        403,
        413,
        415,
        422,
        resources=("CoverageEligibilityResponse",),
    ),
    openapi_extra=_ELIGIBILITY_BODY,
)
async def submit_eligibility_request(
    request: Request, state: State, session: WriteSession
) -> Response:
    """The request's one session commits the inquiry's audit entry after this returns;
    nothing is written before the last step of the inquiry, so a refusal stores nothing."""
    media = request.headers.get("content-type", "")
    syntax = syntax_of(media)
    xml = wants_xml(request, syntax)
    try:
        caller = await authenticate(request, state)
        if caller.role is not Role.CENTRE or caller.centre is None:
            raise ForbiddenError("Only a centre's token may ask about eligibility.")
        await spend_inquiry_budget(request, caller.centre.code)
        if syntax is None:
            raise GatewayError(
                f"Content-Type {media or '(none)'} is not accepted; send {JSON_MEDIA} or "
                f"{XML_MEDIA}.",
                415,
            )
        body = await read_body(request, state.settings.max_body_bytes)
        answer = await run_in_threadpool(
            service.check_eligibility,
            session,
            state.settings,
            caller.centre,
            caller.actor,
            body,
            syntax,
        )
    except Exception as exc:
        return refusal(exc, xml)
    return render(answer, xml)


_COMMUNICATION_EXAMPLE: dict[str, Any] = {
    "resourceType": "Communication",
    "status": "completed",
    "basedOn": [{"reference": "CommunicationRequest/5b0e2c1e-8f4a-4d52-9a57-3c1f0f3b2a10"}],
    "payload": [
        {"contentString": "The discharge summary of 2026-11-20 is attached."},
        {"contentAttachment": {"contentType": "application/pdf", "title": "summary.pdf",
                               "data": "JVBERi0xLjQKJSVFT0YK"}},
    ],
}  # fmt: skip
_COMMUNICATION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 Communication based on one of the centre's open "
        "CommunicationRequests: contentString is the answer's text, contentAttachment.data "
        "(base64) each file (PDF, JPEG or PNG, checked by content)",
        "content": openapi.fhir_content(
            "Communication",
            example=_COMMUNICATION_EXAMPLE,
            xml_example=_xml_text(Communication.model_validate(_COMMUNICATION_EXAMPLE)),
        ),
    }
}
_COMMUNICATION_ANSWERS = _answers(
    "The Communication as stored (its attachments by their download URL)",
    *AUTHENTICATED, 400, 403, 404, 409, 413, 415, 422,
    resources=("Communication",),
)  # fmt: skip
_COMMUNICATION_ANSWERS[201] = _COMMUNICATION_ANSWERS.pop(200)


@router.get(
    "/CommunicationRequest",
    summary="The centre's open requests for information, as CommunicationRequests",
    response_class=Response,
    responses=_answers(
        "A searchset Bundle of CommunicationRequests", *AUTHENTICATED, 403, resources=("Bundle",)
    ),
)
def search_communication_requests(request: Request, state: State, session: ReadSession) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = require_centre(authenticate_here(request, state))
        assert caller.centre is not None
        found = service.open_requests(session, caller.centre)
    except Exception as exc:
        return refusal(exc, xml)
    return render(found, xml)


@router.post(
    "/Communication",
    summary="Answer a CommunicationRequest (a request for information) with a Communication",
    response_class=Response,
    responses=_COMMUNICATION_ANSWERS,
    openapi_extra=_COMMUNICATION_BODY,
)
async def create_communication(request: Request, state: State, session: WriteSession) -> Response:
    media = request.headers.get("content-type", "")
    syntax = syntax_of(media)
    xml = wants_xml(request, syntax)
    try:
        caller = require_centre(await authenticate(request, state))
        assert caller.centre is not None
        if syntax is None:
            raise GatewayError(
                f"Content-Type {media or '(none)'} is not accepted; send {JSON_MEDIA} or "
                f"{XML_MEDIA}.",
                415,
            )
        settings = state.settings
        # base64 makes files a third larger; 1 MB more for the text and the resource.
        limit = settings.attachment_max_bytes * max(settings.attachment_max_count, 1) * 4 // 3
        body = await read_body(request, limit + 1024 * 1024)
        done = await run_in_threadpool(
            service.communicate,
            session,
            settings,
            caller.centre,
            caller.actor,
            body,
            syntax,
        )
    except Exception as exc:
        session.rollback()  # a refusal is answered, not raised: it must store nothing
        return refusal(exc, xml)
    return render(done, xml, 201, Location=f"/fhir/Communication/{done.id}")
