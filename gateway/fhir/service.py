"""FHIR requests through the gateway's one pipeline, and ClaimResponses read back.

Submitting: parse and check the FHIR body, map each Claim to a document of the JSON form,
check that form with the same schema as any other submission, then ``ingest`` it (rules,
one transaction, outbox) with the original FHIR bytes as the stored raw body. Parsing and
mapping run before a database connection is taken.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import date

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.servicerequest import ServiceRequest
from sqlalchemy.orm import Session

from gateway.documents.view import DocumentView, document_view, received, views_where
from gateway.domain import documents as dm
from gateway.eligibility import service as eligibility
from gateway.errors import GatewayError
from gateway.fhir import communication as comms
from gateway.fhir import eligibility as coverage
from gateway.fhir import referral as fhir_referral
from gateway.fhir import repository
from gateway.fhir.eob import explanation_of_benefit
from gateway.fhir.issues import StructureError
from gateway.fhir.mapping import map_submission, number_system, purposes, replaced_system
from gateway.fhir.parse import Parsed, Syntax, as_json, claims_in, parse_body, syntax_of
from gateway.fhir.policy import kept_as_warnings
from gateway.fhir.response import (
    ClaimContext,
    claim_response,
    collection,
    context_of,
    generic_context,
)
from gateway.fhir.supplementary import supplementary_bundle
from gateway.information import service as information
from gateway.kit.outbox import Pending
from gateway.payers import statements
from gateway.referrals import service as referrals
from gateway.settings import Settings, today
from gateway.storage.models import Centre, Document, Referral
from gateway.submissions.service import Ingested, ingest, parse_valid
from validators.problems import Problem
from validators.schema import Format

log = logging.getLogger(__name__)


class MappingError(RuntimeError):
    """The mapped submission broke the gateway's schema: a defect of the mapping."""


@dataclass(slots=True)
class Submitted:
    resource: ClaimResponse | Bundle
    outbox: list[Pending]
    accepted: int
    rejected: int


@dataclass(frozen=True, slots=True)
class Prepared:
    """A FHIR body parsed, mapped and checked against the schema: ready to store."""

    body: bytes
    media: str
    parsed: Parsed
    submission: dm.Submission
    problems: list[list[Problem]]
    uses: list[dm.Purpose]


def prepare(centre: Centre, body: bytes, syntax: Syntax, media: str) -> Prepared:
    """Parse, map and check a body; no database (run before a connection is taken)."""
    parsed = parse_body(body, syntax)
    mapped, problems = map_submission(parsed, centre.code)
    uses = purposes(parsed)
    try:
        submission = parse_valid(orjson.dumps(mapped), Format.JSON)
    except GatewayError as exc:
        log.error("FHIR mapping broke the schema: %s", [p.to_dict() for p in exc.problems])
        raise MappingError("the mapped submission does not match the schema") from exc
    for document, entry in zip(submission.documents, parsed.claims, strict=True):
        document.identifier_system = number_system(entry.resource)
        document.replaces_system = replaced_system(entry.resource)
    return Prepared(body, media, parsed, submission, problems, uses)


def store(session: Session, settings: Settings, centre: Centre, prepared: Prepared) -> Submitted:
    """Store a prepared body in the caller's transaction; the answer (a ClaimResponse, or a
    Bundle of them for a Bundle)."""
    stored = ingest(
        session=session,
        centre=centre,
        body=prepared.body,
        fmt=Format.JSON,
        content_type=prepared.media,
        idempotency_key=None,
        max_documents=settings.max_documents_per_submission,
        parsed=prepared.submission,
        mapped_problems=prepared.problems,
        stored_format="fhir",
        settings=settings,
        kept_as_warnings=[kept_as_warnings(use) for use in prepared.uses],
        purposes=prepared.uses,
    )
    parsed = prepared.parsed
    responses = _responses(stored, prepared.submission, parsed, centre)
    resource: ClaimResponse | Bundle = responses[0]
    if parsed.kind == "Bundle":
        resource = collection(responses, str(stored.submission.id))
    return Submitted(
        resource,
        stored.outbox,
        stored.submission.accepted_count,
        stored.submission.rejected_count,
    )


def _responses(
    stored: Ingested, submission: dm.Submission, parsed: Parsed, centre: Centre
) -> list[ClaimResponse]:
    out = []
    for ordinal, (row, document, entry) in enumerate(
        zip(stored.documents, submission.documents, parsed.claims, strict=True)
    ):
        view = received(
            row, document, ordinal=ordinal, centre=centre, submission_id=stored.submission.id
        )
        out.append(claim_response(view, context_of(entry)))
    return out


def read(session: Session, document_id: str, centre_scope: int | None) -> ClaimResponse | None:
    """The ClaimResponse of a document as it stands now; None if absent or not visible."""
    try:
        key = uuid.UUID(document_id)
    except ValueError:
        return None
    view = document_view(session, key, centre_scope)
    if view is None:
        return None
    return claim_response(view, _stored_context(session, view))


def explanation(
    session: Session, document_id: str, centre_scope: int | None
) -> ExplanationOfBenefit | None:
    """The ExplanationOfBenefit of a priced document; None if absent, not visible or not
    priced yet (an EOB explains a decision that exists)."""
    try:
        key = uuid.UUID(document_id)
    except ValueError:
        return None
    view = document_view(session, key, centre_scope)
    return None if view is None else explanation_of_benefit(view)


_contexts: dict[uuid.UUID, list[ClaimContext]] = {}
_contexts_lock = threading.Lock()


def _stored_context(session: Session, document: DocumentView) -> ClaimContext:
    """The context of the Claim a document came from, read again from the raw body."""
    with _contexts_lock:
        contexts = _contexts.get(document.submission_id)
    if contexts is None:
        contexts = _read_contexts(session, document.submission_id)
        with _contexts_lock:
            if len(_contexts) > 256:
                _contexts.clear()
            _contexts[document.submission_id] = contexts
    if document.ordinal < len(contexts):
        return contexts[document.ordinal]
    return generic_context(document.external_id, document.kind, len(document.lines))


def _read_contexts(session: Session, submission_id: uuid.UUID) -> list[ClaimContext]:
    row = repository.raw_body(session, submission_id)
    if row is None or row.format != "fhir":
        return []
    try:
        entries = claims_in(row.body, syntax_of(row.content_type) or Syntax.JSON)
    except StructureError:
        return []
    return [context_of(entry) for entry in entries]


def supplementary_claims(
    session: Session, *, insurer: str, period: str
) -> tuple[Bundle, list[uuid.UUID]]:
    """A supplementary insurer's claims for a month of service, and the documents they name."""
    lines = statements.insurer_statement(session, insurer=insurer, period=period)
    documents = sorted({line.document_id for line in lines})
    views = views_where(session, Document.id.in_(documents), history=False) if documents else []
    bundle = supplementary_bundle(views, insurer, lines, f"{insurer}-{period}")
    return bundle, documents


def issue_referral(
    session: Session,
    settings: Settings,
    centre: Centre,
    body: bytes,
    syntax: Syntax,
    actor: str,
) -> ServiceRequest:
    """Issue the referral a ServiceRequest asks for; the ServiceRequest as stored."""
    asked = fhir_referral.read_request(body, syntax)
    row = referrals.issue(
        session=session,
        centre=centre,
        request=referrals.Issue(
            physician_number=asked.physician,
            patient_national_id=asked.patient,
            level=asked.level,
            specialty=asked.specialty,
            reason_icd10=asked.reason,
            reason_text=asked.reason_text,
            issued_on=asked.issued_on or today(settings),
            visits=asked.visits,
        ),
        validity_days=settings.referral_validity_days,
        source="fhir",
        actor=actor,
    )
    return fhir_referral.service_request(_issued(row, today(settings)))


def read_referral(
    session: Session, settings: Settings, code: str, centre: Centre, actor: str
) -> ServiceRequest:
    """A referral as a ServiceRequest, for the two centres that may read it (audited)."""
    row = referrals.read(session=session, code=code, centre=centre, actor=actor)
    return fhir_referral.service_request(_issued(row, today(settings)))


def _issued(row: Referral, on: date) -> fhir_referral.Issued:
    return fhir_referral.Issued(
        code=row.code,
        status=referrals.status_of(row, on),
        physician=row.physician_number,
        patient=row.patient_national_id,
        level=row.level,
        specialty=row.specialty,
        reason=row.reason_icd10,
        reason_text=row.reason_text,
        issued_on=row.issued_on,
        valid_until=row.valid_until,
        visits=row.visits,
    )


def check_eligibility(
    session: Session,
    settings: Settings,
    centre: Centre,
    actor: str,
    body: bytes,
    syntax: Syntax,
) -> CoverageEligibilityResponse:
    """A CoverageEligibilityRequest answered by the eligibility inquiry, in the caller's
    session (the audit entry lands with its commit); parsed before the session is used."""
    request, question = coverage.parse_request(body, syntax, centre.code)
    inquired = eligibility.inquire(
        session,
        centre_id=centre.id,
        actor=actor,
        door="fhir",
        question=question,
        settings=settings,
    )
    return coverage.response_for(inquired, request)


def open_requests(session: Session, centre: Centre) -> Bundle:
    """The centre's unanswered requests for information, as a searchset Bundle of
    CommunicationRequests, nearest deadline first."""
    found = [
        comms.communication_request(view, centre.code)
        for view in information.open_requests_of_centre(session, centre.id)
    ]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {
                    "fullUrl": f"CommunicationRequest/{resource.id}",
                    "resource": resource.model_dump(mode="json", exclude_none=True),
                    "search": {"mode": "match"},
                }
                for resource in found
            ],
        }
    )


def communicate(
    session: Session,
    settings: Settings,
    centre: Centre,
    actor: str,
    body: bytes,
    syntax: Syntax,
) -> Communication:
    """A centre's Communication answering one of its CommunicationRequests: parsed and
    checked first, then answered in the request's session."""
    request_id, text, uploads = comms.read_communication(as_json(body, syntax))
    view = information.answer_request(
        session,
        request_id=request_id,
        centre_id=centre.id,
        text=text,
        uploads=uploads,
        actor=actor,
        max_bytes=settings.attachment_max_bytes,
        max_count=settings.attachment_max_count,
    )
    return comms.communication(view, centre.code)
