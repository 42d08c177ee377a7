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

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.documents.view import DocumentView, document_view, received
from gateway.domain import documents as dm
from gateway.eligibility import service as eligibility
from gateway.errors import GatewayError
from gateway.fhir import eligibility as coverage
from gateway.fhir.eob import explanation_of_benefit
from gateway.fhir.issues import StructureError
from gateway.fhir.mapping import map_submission, number_system, purposes, replaced_system
from gateway.fhir.parse import Parsed, Syntax, claims_in, parse_body, syntax_of
from gateway.fhir.policy import kept_as_warnings
from gateway.fhir.response import (
    ClaimContext,
    claim_response,
    collection,
    context_of,
    generic_context,
)
from gateway.kit.db import transaction
from gateway.kit.outbox import Pending
from gateway.settings import Settings
from gateway.storage.models import Centre, RawPayload, Submission
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


def submit(
    sessions: sessionmaker[Session],
    settings: Settings,
    centre: Centre,
    body: bytes,
    syntax: Syntax,
    media: str,
) -> Submitted:
    """Check, map, store; the answer (a ClaimResponse, or a Bundle of them for a Bundle)."""
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
    stored = _store(sessions, settings, centre, body, media, submission, problems, uses)
    responses = _responses(stored, submission, parsed, centre)
    resource: ClaimResponse | Bundle = responses[0]
    if parsed.kind == "Bundle":
        resource = collection(responses, str(stored.submission.id))
    return Submitted(
        resource,
        stored.outbox,
        stored.submission.accepted_count,
        stored.submission.rejected_count,
    )


def _store(
    sessions: sessionmaker[Session],
    settings: Settings,
    centre: Centre,
    body: bytes,
    media: str,
    submission: dm.Submission,
    problems: list[list[Problem]],
    uses: list[dm.Purpose],
) -> Ingested:
    for attempt in range(2):
        try:
            with transaction(sessions) as session:
                return ingest(
                    session=session,
                    centre=centre,
                    body=body,
                    fmt=Format.JSON,
                    content_type=media,
                    idempotency_key=None,
                    max_documents=settings.max_documents_per_submission,
                    parsed=submission,
                    mapped_problems=problems,
                    stored_format="fhir",
                    settings=settings,
                    kept_as_warnings=[kept_as_warnings(use) for use in uses],
                    purposes=uses,
                )
        except IntegrityError:
            # A concurrent request took the same document number: the second pass sees it
            # committed and rejects this one as a duplicate.
            if attempt:
                raise
    raise AssertionError("unreachable")


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
    query = (
        select(Submission.format, RawPayload.body, RawPayload.content_type)
        .join(RawPayload, RawPayload.submission_id == Submission.id)
        .where(Submission.id == submission_id)
    )
    row = session.execute(query).one_or_none()
    if row is None or row.format != "fhir":
        return []
    try:
        entries = claims_in(row.body, syntax_of(row.content_type) or Syntax.JSON)
    except StructureError:
        return []
    return [context_of(entry) for entry in entries]


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
