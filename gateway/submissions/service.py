"""The ingest pipeline: schema, business rules, then one transaction of rows and outbox.

Nothing here commits. The caller commits and only then hands the outbox messages to
the publisher, so no task is ever sent for data that was rolled back. Several
submissions can share one transaction (``ingest_many``, used by the API's group commit):
each is judged as if it came after the ones before it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import journal
from gateway.documents.service import Claim, Replacements, problem_of
from gateway.domain import documents as dm
from gateway.domain.lifecycle import DocumentStatus, Transition, birth, transition
from gateway.domain.referrals import ReferralInfo, Rollout
from gateway.domain.registry import Coverage
from gateway.domain.tariff import TariffBook
from gateway.errors import GatewayError
from gateway.kit.broker import PRICE_DOCUMENTS
from gateway.kit.outbox import Pending
from gateway.pricing.service import NoTariffError, TariffCache
from gateway.referrals import service as referrals
from gateway.settings import Settings, get_settings, today
from gateway.storage import repository
from gateway.storage.models import Centre, Document, Referral, Submission, utcnow
from gateway.submissions import repository as submissions
from validators.business import Report, validate_submission
from validators.context import RuleContext
from validators.problems import Problem, Severity, has_errors
from validators.reader import read_result
from validators.schema import Format, claim_schema

# Accepted documents are priced in batches: one message per this many of a transaction.
PRICING_BATCH = 200


@dataclass(slots=True)
class StoredSubmission:
    """A submission as this transaction stores it: what answers the request, without an
    ORM instance (instrumenting one costs more than laying out its row)."""

    id: uuid.UUID
    centre_id: int
    format: str
    submission_number: str | None
    received_at: datetime
    document_count: int
    accepted_count: int
    rejected_count: int
    idempotency_key: str | None


@dataclass(slots=True)
class StoredDocument:
    """A document as this transaction stores it (the answer's view of its row)."""

    id: uuid.UUID
    external_id: str
    kind: str
    status: str
    source_path: str
    patient_national_id: str
    problems: list[dict[str, Any]]
    purpose: str
    updated_at: datetime
    referrals_issued: list[str] = field(default_factory=list)  # codes, for the answer


@dataclass(slots=True)
class Ingested:
    """A stored submission: rows written now, or, for a replay, the ones stored before."""

    submission: StoredSubmission | Submission
    documents: Sequence[StoredDocument | Document]
    outbox: list[Pending]
    replayed: bool = False
    # Replayed: the codes of the referrals its documents issued (fresh: on each document).
    issued: Mapping[uuid.UUID, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Arrival:
    """A submission to store: its body as received and what is known of it so far.

    ``parsed`` is its ``parse_valid`` result when the caller already has it (so parsing can
    run before a database connection is taken). ``mapped_problems`` are problems per
    document found while translating another format (FHIR) into this one; they join the
    rules' problems and are judged the same way. ``stored_format`` overrides the recorded
    format ("fhir" when ``body`` is the original FHIR resource and ``parsed`` its
    translation). ``kept_as_warnings`` gives per document the error codes that do not
    reject it, each with why: such an error is kept as a warning that says so (the FHIR
    door, ``gateway.fhir.policy``). ``purposes`` says per document whether it is a bill
    or an estimate (all bills when None).
    """

    centre: Centre
    body: bytes
    fmt: Format
    content_type: str
    idempotency_key: str | None = None
    parsed: dm.Submission | None = None
    mapped_problems: list[list[Problem]] | None = None
    stored_format: str | None = None
    kept_as_warnings: list[Mapping[str, str]] | None = None
    purposes: list[dm.Purpose] | None = None


@dataclass(slots=True)
class Group:
    """What ``ingest_many`` did: per arrival its stored submission or why it was refused,
    and the outbox messages of the whole transaction (to publish once it commits)."""

    outcomes: list[Ingested | GatewayError]
    outbox: list[Pending] = field(default_factory=list)


def parse_valid(body: bytes, fmt: Format) -> dm.Submission:
    """The submission in a body, or GatewayError(422) with every schema problem."""
    result = claim_schema().check(body, fmt)
    if not result.ok:
        _count(result.problems)
        raise GatewayError("The submission does not match the schema.", 422, result.problems)
    return read_result(result)


def apply_rules(
    submission: dm.Submission,
    context: RuleContext,
    *,
    centre_code: str | None,
    max_documents: int = 1_000_000,
) -> Report:
    """Business rules; GatewayError(422) when the envelope itself is refused."""
    report = validate_submission(
        submission, context, centre_code=centre_code, max_documents=max_documents
    )
    if report.refused:
        _count(report.envelope)
        raise GatewayError("The submission was refused.", 422, report.envelope)
    return report


_books = TariffCache()
TARIFF_RECHECK_S = 1.0


class _RecentTariff:
    """The newest tariff book of each database; whether a newer one was imported is asked
    at most once a TARIFF_RECHECK_S (one query fewer for each of the API's group commits;
    a book imported now judges the submissions that come a second later)."""

    def __init__(self) -> None:
        self._seen: dict[object, tuple[float, TariffBook]] = {}

    def get(self, session: Session) -> TariffBook | None:
        bind = session.get_bind()
        checked = self._seen.get(bind)
        now = time.monotonic()
        if checked is not None and now - checked[0] < TARIFF_RECHECK_S:
            return checked[1]
        try:
            book = _books.current(session)
        except NoTariffError:
            return None
        self._seen[bind] = (now, book)
        return book


_tariffs = _RecentTariff()


def server_context(
    session: Session, centre: Centre, submission: dm.Submission, settings: Settings
) -> RuleContext:
    """What the rules need for one submission, read from the database in a few queries."""
    return _SharedContext.read(session, [(centre, submission)], settings).context_for(centre)


def ingest(
    *,
    session: Session,
    centre: Centre,
    body: bytes,
    fmt: Format,
    content_type: str,
    idempotency_key: str | None,
    max_documents: int,
    parsed: dm.Submission | None = None,
    mapped_problems: list[list[Problem]] | None = None,
    stored_format: str | None = None,
    settings: Settings | None = None,
    kept_as_warnings: list[Mapping[str, str]] | None = None,
    purposes: list[dm.Purpose] | None = None,
) -> Ingested:
    """Check and store one body (see ``Arrival`` for the optional arguments); raises
    GatewayError when the submission is refused as a whole."""
    arrival = Arrival(
        centre,
        body,
        fmt,
        content_type,
        idempotency_key,
        parsed,
        mapped_problems,
        stored_format,
        kept_as_warnings,
        purposes,
    )
    group = ingest_many(
        session=session, arrivals=[arrival], max_documents=max_documents, settings=settings
    )
    (outcome,) = group.outcomes
    if isinstance(outcome, GatewayError):
        raise outcome
    outcome.outbox = group.outbox
    return outcome


def ingest_many(
    *,
    session: Session,
    arrivals: Sequence[Arrival],
    max_documents: int,
    settings: Settings | None = None,
) -> Group:
    """Check and store several submissions in the caller's transaction, in order, each
    judged as if it came alone after the ones before it (their accepted numbers and
    services count). The reference data is read once for all of them and the rows are
    written in bulk. A refused submission is its GatewayError in the outcomes; the others
    are stored all the same."""
    settings = settings or get_settings()
    outcomes: list[Ingested | GatewayError | None] = [None] * len(arrivals)
    checked: list[tuple[int, Arrival, dm.Submission, str]] = []
    for index, arrival in enumerate(arrivals):
        try:
            digest = hashlib.sha256(arrival.body).hexdigest()
            if arrival.idempotency_key:
                earlier = _replay(session, arrival.centre.id, arrival.idempotency_key, digest)
                if earlier is not None:
                    outcomes[index] = earlier
                    continue
            parsed = arrival.parsed or parse_valid(arrival.body, arrival.fmt)
            checked.append((index, arrival, parsed, digest))
        except GatewayError as refused:
            outcomes[index] = refused
    shared = _SharedContext.read(session, [(a.centre, p) for _, a, p, _ in checked], settings)
    rows = _Rows()
    for index, arrival, parsed, digest in checked:
        context = shared.context_for(arrival.centre)
        replacing = shared.replacements(session, arrival.centre)
        claims = replacing.prepare(parsed.documents)
        try:
            report = apply_rules(
                parsed, context, centre_code=arrival.centre.code, max_documents=max_documents
            )
        except GatewayError as refused:
            for claim in claims.values():
                replacing.settle(claim, accepted=False, new_id=uuid.uuid4())
            outcomes[index] = refused
            continue
        for ordinal, claim in claims.items():
            report.documents[ordinal][:0] = problem_of(claim)
        for problems, extra in zip(report.documents, arrival.mapped_problems or [], strict=False):
            problems[:0] = extra
        if arrival.kept_as_warnings:
            report.documents = [
                _keep_as_warnings(problems, why)
                for problems, why in zip(report.documents, arrival.kept_as_warnings, strict=True)
            ]
        taken = _take_referral_visits(session, parsed, report, context, claims)
        issued = _issue_referrals(session, arrival.centre, parsed, report, settings)
        stored = _add(rows, arrival, parsed, report, digest)
        for ordinal, claim in claims.items():
            row = stored.documents[ordinal]
            replacing.settle(claim, row.status == DocumentStatus.ACCEPTED, row.id)
        for index, made in issued.items():
            row = stored.documents[index]
            assert isinstance(row, StoredDocument)
            row.referrals_issued = [referral.code for referral in made]
            referrals.link_to_document(session=session, referrals=made, document_id=row.id)
        rows.referral_uses += [
            referrals.Use(referral_id, stored.documents[i].id, arrival.centre.id,
                          parsed.documents[i].service_date, parsed.documents[i].referral_feedback)
            for i, referral_id in taken.items()
        ]  # fmt: skip
        shared.remember(arrival.centre, stored.documents, parsed)
        outcomes[index] = stored
    group = Group([o for o in outcomes if o is not None])
    if rows.table.submissions:
        # The replaced documents first: they give up their numbers to the new rows.
        rows.moves[:0] = [m for r in shared.replacing.values() for m in r.void_all()]
        submissions.store(session, rows.table)
        referrals.record_uses(session=session, uses=rows.referral_uses)
        pricing = submissions.add_messages(
            session,
            PRICE_DOCUMENTS,
            [
                {"document_ids": rows.to_price[start : start + PRICING_BATCH]}
                for start in range(0, len(rows.to_price), PRICING_BATCH)
            ],
        )
        # The journal last: it locks the audit chain's head until the commit, and every
        # other writer (the other API processes, batches, pricing) waits for it.
        group.outbox = journal.record(session, rows.moves, shared.webhooks) + pricing
    return group


def _issue_referrals(
    session: Session,
    centre: Centre,
    submission: dm.Submission,
    report: Report,
    settings: Settings,
) -> dict[int, list[Referral]]:
    """Per document index, the referrals its ``referralsIssued`` issued (see
    ``referrals.issue_from_document``)."""
    out: dict[int, list[Referral]] = {}
    for index, (document, problems) in enumerate(
        zip(submission.documents, report.documents, strict=True)
    ):
        made = referrals.issue_from_document(
            session=session,
            centre=centre,
            document=document,
            problems=problems,
            validity_days=settings.referral_validity_days,
            actor=f"centre:{centre.code}",
        )
        if made:
            out[index] = made
    return out


def _take_referral_visits(
    session: Session,
    submission: dm.Submission,
    report: Report,
    context: RuleContext,
    claims: Mapping[int, Problem | Claim],
) -> dict[int, int]:
    """Per document index, the id of the referral whose visit it now holds (see
    ``referrals.take_visit_for``)."""
    taken: dict[int, int] = {}
    for index, (document, problems) in enumerate(
        zip(submission.documents, report.documents, strict=True)
    ):
        claim = claims.get(index)
        got = referrals.take_visit_for(
            session=session,
            document=document,
            problems=problems,
            context=context,
            replaced=claim.original.id if isinstance(claim, Claim) else None,
        )
        if got is not None:
            taken[index] = got
    return taken


def _keep_as_warnings(problems: list[Problem], why: Mapping[str, str]) -> list[Problem]:
    """The problems with each error named in ``why`` turned into a warning that says why."""
    out = []
    for problem in problems:
        reason = why.get(problem.code)
        if reason is not None and problem.severity is Severity.ERROR:
            problem = replace(
                problem,
                message=f"{problem.message} Not refused here: {reason}.",
                severity=Severity.WARNING,
            )
        out.append(problem)
    return out


@dataclass(slots=True)
class _Rows:
    table: submissions.Rows = field(default_factory=submissions.Rows)
    moves: list[journal.Move] = field(default_factory=list)
    to_price: list[str] = field(default_factory=list)
    referral_uses: list[referrals.Use] = field(default_factory=list)


class _SharedContext:
    """The reference data the rules need for a group of submissions, read in a few queries,
    and what the group's earlier submissions accepted (so later ones see it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.coverages: dict[str, list[Coverage]] = {}
        self.tariff: TariffBook | None = None
        self.numbers: dict[int, set[str]] = {}
        self.services: dict[int, set[tuple[str, str, date]]] = {}
        self.contexts: dict[int, RuleContext] = {}
        self.webhooks: dict[int, list[int]] | None = None
        self.replacing: dict[int, Replacements] = {}
        self.rollout: Rollout | None = None
        self.referrals: dict[str, ReferralInfo] = {}

    @classmethod
    def read(
        cls,
        session: Session,
        items: Sequence[tuple[Centre, dm.Submission]],
        settings: Settings,
    ) -> _SharedContext:
        shared = cls(settings)
        if not items:
            return shared
        patients = {d.patient.national_id for _, s in items for d in s.documents}
        centres: dict[int, repository.CentreLookup] = {}
        for centre, submission in items:
            wanted = centres.setdefault(centre.id, repository.CentreLookup(set(), set(), set()))
            for document in submission.documents:
                wanted.numbers.add(document.number)
                wanted.national_ids.add(document.patient.national_id)
                wanted.dates.update(line.service_date for line in document.lines)
        found = repository.ingest_lookups(session, patients, centres)
        shared.coverages, shared.numbers, shared.services, shared.webhooks = (
            found.coverages,
            found.numbers,
            found.services,
            found.webhooks,
        )
        shared.tariff = _tariffs.get(session)
        shared.rollout = referrals.rollout(session=session)
        codes = {d.referral_code for _, s in items for d in s.documents if d.referral_code}
        shared.referrals = referrals.lookup(session=session, codes=codes)
        return shared

    def context_for(self, centre: Centre) -> RuleContext:
        context = self.contexts.get(centre.id)
        if context is None:
            context = self.contexts[centre.id] = RuleContext(
                today=today(self.settings),
                centre=repository.centre_info(centre),
                coverages=self.coverages,
                tariff=self.tariff,
                accepted_numbers=self.numbers.setdefault(centre.id, set()),
                stored_services=self.services.setdefault(centre.id, set()),
                submission_window_days=self.settings.submission_window_days,
                rollout=self.rollout,
                referrals=self.referrals,
            )
        return context

    def replacements(self, session: Session, centre: Centre) -> Replacements:
        """The centre's replacements in this transaction, over its context's sets."""
        found = self.replacing.get(centre.id)
        if found is None:
            found = self.replacing[centre.id] = Replacements(
                session,
                centre.id,
                f"centre:{centre.code}",
                self.numbers.setdefault(centre.id, set()),
                self.services.setdefault(centre.id, set()),
            )
        return found

    def remember(
        self, centre: Centre, stored: Sequence[StoredDocument | Document], submission: dm.Submission
    ) -> None:
        """The accepted documents of a submission now count for the ones after it."""
        numbers = self.numbers.setdefault(centre.id, set())
        services = self.services.setdefault(centre.id, set())
        for row, document in zip(stored, submission.documents, strict=True):
            if row.status != DocumentStatus.ACCEPTED:
                continue
            numbers.add(document.duplicate_key)
            patient = document.patient.national_id
            services.update((patient, line.code, line.service_date) for line in document.lines)


def _count(problems: list[Problem]) -> None:
    for problem in problems:
        metrics.VALIDATION_PROBLEMS.labels(problem.code).inc()


def _replay(session: Session, centre_id: int, key: str, digest: str) -> Ingested | None:
    found = submissions.submission_by_idempotency_key(session, centre_id, key)
    if found is None:
        return None
    submission, raw_digest = found
    if raw_digest != digest:
        raise GatewayError(
            "This Idempotency-Key was already used with a different body.",
            422,
            [Problem("idempotency.key-reused", "The Idempotency-Key was used for another body.")],
        )
    documents = list(submission.documents)
    issued = referrals.issued_by_documents(session=session, ids=[d.id for d in documents])
    return Ingested(submission, documents, [], replayed=True, issued=issued)


def _add(
    rows: _Rows,
    arrival: Arrival,
    submission: dm.Submission,
    report: Report,
    digest: str,
) -> Ingested:
    """Lay out one judged submission's rows; the ORM objects returned only answer the
    request (they are never added to a session: the rows go in bulk)."""
    centre = arrival.centre
    actor = f"centre:{centre.code}"
    now = utcnow()
    row = StoredSubmission(
        id=uuid.uuid4(),
        centre_id=centre.id,
        format=arrival.stored_format or arrival.fmt.value,
        submission_number=submission.submission_number,
        received_at=now,
        document_count=len(submission.documents),
        accepted_count=0,
        rejected_count=0,
        idempotency_key=arrival.idempotency_key,
    )
    documents: list[StoredDocument] = []
    for ordinal, (document, problems) in enumerate(
        zip(submission.documents, report.documents, strict=True)
    ):
        purpose = arrival.purposes[ordinal] if arrival.purposes else dm.Purpose.CLAIM
        values, pair = _document_values(row.id, centre, ordinal, document, problems, actor)
        values["purpose"] = purpose.value
        stored = StoredDocument(
            values["id"],
            values["external_id"],
            values["kind"],
            values["status"],
            values["source_path"],
            values["patient_national_id"],
            values["problems"],
            values["purpose"],
            values["updated_at"],
        )
        documents.append(stored)
        rows.table.documents.append(
            [orjson.dumps(values["problems"]).decode() if c == "problems" else values[c]
             for c in submissions.DOCUMENT_COLUMNS]
        )  # fmt: skip
        rows.moves += [journal.Move(stored.id, centre.id, stored.external_id, m) for m in pair]
        rows.table.lines += _line_rows(stored.id, document)
        if stored.status == DocumentStatus.ACCEPTED:
            row.accepted_count += 1
            rows.to_price.append(str(stored.id))
        else:
            row.rejected_count += 1
        _count(problems)
        metrics.DOCUMENTS.labels(document.kind.value, stored.status.lower()).inc()
    rows.table.submissions.append([getattr(row, c) for c in submissions.SUBMISSION_COLUMNS])
    body = arrival.body
    rows.table.raws.append([row.id, arrival.content_type, digest, len(body), body])
    return Ingested(row, documents, [])


def _document_values(
    submission_id: uuid.UUID,
    centre: Centre,
    ordinal: int,
    document: dm.Document,
    problems: list[Problem],
    actor: str,
) -> tuple[dict[str, Any], tuple[Transition, Transition]]:
    first = birth(actor=actor)
    target = DocumentStatus.REJECTED if has_errors(problems) else DocumentStatus.ACCEPTED
    reason = f"{len(problems)} problem(s)" if problems else "schema and rules passed"
    second = transition(DocumentStatus.RECEIVED, target, actor=actor, reason=reason)
    values = {
        "id": uuid.uuid4(),
        "submission_id": submission_id,
        "centre_id": centre.id,
        "ordinal": ordinal,
        "kind": document.kind.value,
        "external_id": document.number,
        "identifier_system": document.identifier_system,
        "status": target.value,
        "source_path": document.path[:200],
        "patient_national_id": document.patient.national_id,
        "insurance_number": document.patient.insurance_number,
        "physician_number": document.physician.medical_council_number,
        "physician_grade": document.physician.grade,
        "referral_code": document.referral_code,
        "tracking_code": document.tracking_code,
        "category": document.category,
        "package_code": document.package_code,
        "physician_specialty": document.physician.specialty,
        "self_referred": document.self_referred,
        "emergency": document.emergency,
        "service_date": document.service_date,
        "admission_date": document.admission_date,
        "discharge_date": document.discharge_date,
        "total_amount": document.total_amount,
        "requested_amount": document.requested_amount,
        "problems": [p.to_dict() for p in problems],
        "created_at": first.at,
        "updated_at": second.at,
    }
    return values, (first, second)


def _line_rows(document_id: uuid.UUID, document: dm.Document) -> list[tuple[Any, ...]]:
    """In ``submissions.LINE_COLUMNS`` order."""
    return [
        (
            document_id,
            number,
            line.code_type.value,
            line.code,
            line.description,
            line.service_date,
            line.quantity,
            line.unit_price,
            line.amount,
        )
        for number, line in enumerate(document.lines, start=1)
    ]
