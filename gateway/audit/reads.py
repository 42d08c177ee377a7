"""Staff reads of patient data in the audit trail, and who read a given patient's documents.

Every route that shows staff (auditor, finance, admin) a patient's documents calls
``record_read`` once per request; it appends one ``patient.read`` entry to the hash chain.
A centre reading its own documents records nothing, and pays nothing for the check.

An entry names what was shown in one of three shapes, whichever keeps it small:
- one document: subject ``document``/its id (the document page, remittance, FHIR reads);
- a page of results: subject ``documents``/the route, with the ids shown, the query and
  the number of matches (searches and the review queue: at most a page of ids);
- a whole scope: subject ``payment_order``, ``batch`` or ``submission`` and its id, with
  the number of documents (statements, acknowledgements and submissions, which may cover
  100,000 documents). The documents of an order, a batch or a submission never change once
  it can be read, so the scope names them exactly.
``who_read`` finds a patient's documents and resolves every shape back to them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.audit import repository as store
from gateway.domain.centres import Role
from gateway.errors import GatewayError
from gateway.storage.models import AuditEntry
from validators.problems import Problem
from validators.rules.patient import national_id_is_valid

ACTION = "patient.read"
ONE, PAGE = "document", "documents"
ORDER, BATCH, SUBMISSION = "payment_order", "batch", "submission"
_SCOPES = (ORDER, BATCH, SUBMISSION)  # in the order of _Held's tuples


class Reader(Protocol):
    """Whoever is reading: an API principal or a workspace visit."""

    @property
    def actor(self) -> str: ...

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True, slots=True)
class Scope:
    """A set of documents named by what holds them: a payment order, a batch or a submission."""

    kind: str  # ORDER, BATCH or SUBMISSION
    id: str
    count: int


def record_read(
    session: Session,
    reader: Reader,
    route: str,
    *,
    documents: Sequence[uuid.UUID | str] = (),
    scope: Scope | None = None,
    query: str | None = None,
    total: int | None = None,
) -> None:
    """Append one ``patient.read`` entry for a staff request that showed these documents
    (or this scope); nothing for a centre, nor for a request that showed no document. The
    entry goes in the request's own session (``WriteSession``): it commits with the
    request, and a read that fails records nothing."""
    record = read_record(reader, route, documents=documents, scope=scope, query=query, total=total)
    if record is not None:
        audit.append(session, [record])


def read_record(
    reader: Reader,
    route: str,
    *,
    documents: Sequence[uuid.UUID | str] = (),
    scope: Scope | None = None,
    query: str | None = None,
    total: int | None = None,
) -> audit.Record | None:
    """The ``patient.read`` entry ``record_read`` appends; None when there is nothing to
    record."""
    if reader.role is Role.CENTRE or (not documents and scope is None):
        return None
    details: dict[str, Any] = {"role": reader.role.value, "route": route}
    if scope is not None:
        subject = (scope.kind, scope.id)
        details["count"] = scope.count
    elif query is None and len(documents) == 1:
        subject = (ONE, str(documents[0]))
    else:
        subject = (PAGE, route[:60])
        details.update(documents=[str(d) for d in documents], query=query or "", total=total)
    return audit.Record(reader.actor, ACTION, subject[0], subject[1], details)


@dataclass(frozen=True, slots=True)
class Reading:
    """One recorded staff read that showed some of the patient's documents."""

    seq: int
    at: datetime
    actor: str
    role: str
    route: str
    subject_type: str
    subject_id: str
    documents: tuple[str, ...]  # the patient's documents among those shown
    shown: int | None  # how many documents the read showed in all, when recorded


@dataclass(frozen=True, slots=True)
class _Held:
    """The patient's documents, and the orders, batches and submissions that hold them."""

    documents: dict[str, tuple[str | None, ...]]  # id -> (order, batch, submission) ids

    def scopes(self, kind: str) -> set[str]:
        at = _SCOPES.index(kind)
        return {scope for held in self.documents.values() if (scope := held[at]) is not None}

    def in_scope(self, kind: str, scope_id: str) -> tuple[str, ...]:
        at = _SCOPES.index(kind)
        return tuple(sorted(d for d, held in self.documents.items() if held[at] == scope_id))


def who_read(session: Session, national_id: str) -> list[Reading]:
    """Every recorded staff read of the patient's documents, newest first."""
    if not national_id_is_valid(national_id):
        message = f"National ID {national_id!r} is not 10 digits with a correct check digit."
        problem = Problem("patient.national-id-checksum", message, "national_id")
        raise GatewayError(message, 422, [problem], code="patient.national-id-checksum")
    held = _held(session, national_id)
    if not held.documents:
        return []
    ids = sorted(held.documents)
    entries = store.reads_naming(
        session,
        ACTION,
        one=(ONE, ids),
        scopes={kind: held.scopes(kind) for kind in _SCOPES},
        page=(PAGE, ids),
    )
    return [_reading(entry, held) for entry in entries]


def _held(session: Session, national_id: str) -> _Held:
    rows = store.documents_of_patient(session, national_id)
    return _Held(
        {
            str(document): tuple(None if scope is None else str(scope) for scope in scopes)
            for document, *scopes in rows
        }
    )


def _reading(entry: AuditEntry, held: _Held) -> Reading:
    details = entry.details or {}
    documents: tuple[str, ...]
    shown: int | None
    if entry.subject_type == ONE:
        documents, shown = (entry.subject_id,), 1
    elif entry.subject_type == PAGE:
        listed = details.get("documents", [])
        documents = tuple(d for d in listed if d in held.documents)
        shown = len(listed)
    else:
        documents = held.in_scope(entry.subject_type, entry.subject_id)
        shown = details.get("count")
    return Reading(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        role=details.get("role") or _role_of_actor(entry.actor),
        route=details.get("route", ""),
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        documents=documents,
        shown=shown,
    )


def _role_of_actor(actor: str) -> str:
    """Entries from before roles were recorded: API actors are ``role:token``."""
    prefix = actor.partition(":")[0]
    return prefix if prefix in Role.__members__.values() else "?"


def describe(reading: Reading) -> str:
    """One line for a person: when, who, through what, and which of the patient's documents."""
    when = reading.at if reading.at.tzinfo else reading.at.replace(tzinfo=UTC)  # SQLite: UTC
    at = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    via = reading.route or reading.subject_type
    if reading.subject_type in _SCOPES:
        via += f" [{reading.subject_type.replace('_', ' ')} {reading.subject_id}]"
    if reading.shown is not None and reading.shown > 1:
        via += f" ({reading.shown} documents shown)"
    return (
        f"{at}  {reading.actor} ({reading.role})  {via}  documents: {', '.join(reading.documents)}"
    )
