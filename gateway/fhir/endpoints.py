"""The FHIR R4 door: POST Claims (or Bundles of them), GET ClaimResponses.

Every answer is a FHIR resource: a ClaimResponse, a Bundle of them, or an
OperationOutcome for anything refused (401, 403, 404, 413, 415, 422, 500). JSON by
default; XML when the request asks for it (Accept, ``_format``) or was itself XML.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from starlette.concurrency import run_in_threadpool

from gateway import metrics
from gateway.audit import reads
from gateway.domain.centres import Role
from gateway.eligibility.endpoints import spend_inquiry_budget
from gateway.errors import ForbiddenError, GatewayError, NotFoundError
from gateway.fhir import eligibility as coverage
from gateway.fhir import service, systems
from gateway.fhir.capability import capability_statement
from gateway.fhir.issues import Issue, StructureError
from gateway.fhir.parse import Syntax, syntax_of
from gateway.fhir.response import operation_outcome
from gateway.fhir.systems import JSON_MEDIA, XML_MEDIA
from gateway.kit import openapi
from gateway.kit.deps import (
    State,
    WriteSession,
    authenticate,
    authenticate_here,
    require_centre,
)
from gateway.kit.http import AUTHENTICATED, errors, read_body

router = APIRouter(prefix="/fhir", tags=["fhir"])
log = logging.getLogger(__name__)

_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    413: "too-costly",
    415: "not-supported",
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
        done = await run_in_threadpool(
            service.submit,
            state.sessions,
            state.settings,
            caller.centre,
            body,
            syntax,
            media[:100],
        )
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
def get_claim_response(claim_response_id: str, request: Request, state: State) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = authenticate_here(request, state)
        with state.sessions() as session:
            found = service.read(session, claim_response_id, caller.centre_scope)
        if found is None:
            raise NotFoundError("ClaimResponse")
        route = "GET /fhir/ClaimResponse/{id}"
        reads.record_read(state.sessions, caller, route, documents=[uuid.UUID(claim_response_id)])
    except Exception as exc:
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
def get_explanation_of_benefit(eob_id: str, request: Request, state: State) -> Response:
    xml = wants_xml(request, None)
    try:
        caller = authenticate_here(request, state)
        with state.sessions() as session:
            found = service.explanation(session, eob_id, caller.centre_scope)
        if found is None:
            raise NotFoundError("ExplanationOfBenefit")
        route = "GET /fhir/ExplanationOfBenefit/{id}"
        reads.record_read(state.sessions, caller, route, documents=[uuid.UUID(eob_id)])
    except Exception as exc:
        return refusal(exc, xml)
    return render(found, xml)


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
