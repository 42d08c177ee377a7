"""Voiding and replacing: a centre withdraws a document it sent, alone or by a corrected one
(X12 claim frequency codes 8 and 7).

A centre may void its own document until it is approved (``lifecycle.VOIDABLE``); after
that only an appeal contests it. A voided document is final: pricing skips it, settlement
never pays it, and it no longer holds its number or its services, so a replacement may
reuse them. A replacement names the original's number; it is judged like any document,
and only if it is accepted is the original voided, in the same transaction (a refused
replacement leaves the original as it was). Nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import journal
from gateway.documents import repository as store
from gateway.domain import documents as dm
from gateway.domain.lifecycle import VOIDABLE, DocumentStatus, transition
from gateway.errors import GatewayError, NotFoundError
from gateway.kit.db import after_commit
from gateway.referrals import service as referrals
from gateway.storage import repository
from gateway.storage.models import Document, utcnow
from validators.problems import Problem

S = DocumentStatus
APPEAL_ROUTE = "POST /v1/documents/{id}/appeal"
DECIDED = frozenset({S.APPROVED, S.PAYMENT_ORDERED, S.PAID})


def _why_not(status: str) -> str:
    """Why a document in ``status`` can be neither voided nor replaced."""
    if status in DECIDED:
        return (
            f"it is {status}: an approved document is neither voided nor replaced; contest "
            f"the decision with {APPEAL_ROUTE} within the appeal window"
        )
    return f"it is {status}, and only a document not yet approved may be voided"


def void(
    session: Session, *, document_id: uuid.UUID, centre_id: int, reason: str, actor: str
) -> Document:
    """Void a centre's own document (404 for another centre's); 409 when its status does
    not allow it (approved or later: the appeal route; voided already; rejected)."""
    document = repository.lock_document(session, document_id)
    if document is None or document.centre_id != centre_id:
        raise NotFoundError("Document")
    status = S(document.status)
    if status is S.VOIDED:
        message = f"Document {document.id} is VOIDED already."
        raise GatewayError(message, 409, [Problem("document.already-voided", message)])
    if status not in VOIDABLE:
        message = f"Document {document.id} cannot be voided: {_why_not(status)}."
        if status is S.REJECTED:
            message = (
                f"Document {document.id} is REJECTED: it holds nothing to void; send the "
                "corrected document as a new one (its number is free)."
            )
        raise GatewayError(message, 409, [Problem("document.not-voidable", message)])
    move = transition(status, S.VOIDED, actor=actor, reason=reason)
    journal.record(
        session, [journal.Move(document.id, document.centre_id, document.external_id, move)]
    )
    document.status = S.VOIDED.value
    document.updated_at = move.at
    session.flush()
    referrals.release_for_document(session, document.id)
    after_commit(session, metrics.VOIDS.labels("void").inc)
    return document


@dataclass(slots=True)
class Claim:
    """A replacement waiting for its verdict: the original it voids if accepted."""

    original: store.Original
    services: set[store.Service]


@dataclass(slots=True)
class Replacements:
    """The replacements of one transaction, for the ingest pipeline and batches.

    ``prepare`` looks up and locks the originals a list of documents names, and takes their
    numbers and services out of the rule context's sets (``numbers``: the centre's live
    number keys; ``services``: the live services), so a replacement is not its original's
    duplicate. ``settle`` then voids the original of an accepted replacement, or puts its
    number and services back when the replacement was rejected. ``void_all`` writes the
    voids; it must run before the replacements' rows are inserted (their numbers)."""

    session: Session
    centre_id: int
    actor: str
    numbers: set[str]
    services: set[store.Service]
    claimed: dict[uuid.UUID, str] = field(default_factory=dict)  # original -> its claimant
    voids: list[tuple[store.Original, uuid.UUID]] = field(default_factory=list)

    def prepare(self, documents: Sequence[dm.Document]) -> dict[int, Problem | Claim]:
        """Per index of a document naming one: its problem, or the original it claims."""
        wanted = {i: d for i, d in enumerate(documents) if d.replaces is not None}
        if not wanted:
            return {}
        keys = {(d.replaces or "", d.replaces_system) for d in wanted.values()}
        found = {
            dm.number_key(o.external_id, o.identifier_system): o
            for o in store.lock_live_by_number(self.session, self.centre_id, keys)
        }
        services = store.services_of(self.session, [o.id for o in found.values()])
        out: dict[int, Problem | Claim] = {}
        for index, document in wanted.items():
            original = found.get(document.replaces_key or "")
            problem = self._problem(document, original)
            if problem is not None:
                out[index] = problem
                continue
            assert original is not None
            self.claimed[original.id] = document.path
            out[index] = Claim(original, services[original.id])
        taken = [c for c in out.values() if isinstance(c, Claim)]
        self._release(taken)
        return out

    def _problem(self, document: dm.Document, original: store.Original | None) -> Problem | None:
        if original is None:
            return self._unknown(document)
        path = f"{document.path}/replaces"
        if original.id in self.claimed:
            return Problem(
                "replace.duplicate",
                f"Document {document.replaces} is replaced already by {self.claimed[original.id]}.",
                path,
                document.line_no,
            )
        if original.status not in VOIDABLE:
            return Problem(
                "replace.not-replaceable",
                f"Document {document.replaces} cannot be replaced: {_why_not(original.status)}.",
                path,
                document.line_no,
            )
        return None

    def _unknown(self, document: dm.Document) -> Problem:
        return Problem(
            "replace.unknown",
            f"This centre has no live document numbered {document.replaces} to replace "
            "(never accepted, voided, or replaced already).",
            f"{document.path}/replaces",
            document.line_no,
        )

    def _release(self, claims: Sequence[Claim]) -> None:
        """Take the originals' numbers and services out of the rule context."""
        for claim in claims:
            original = claim.original
            self.numbers.discard(dm.number_key(original.external_id, original.identifier_system))
        ids = [c.original.id for c in claims]
        mine = set().union(*(c.services for c in claims)) if claims else set()
        kept = store.services_held_by_others(self.session, mine, ids)
        self.services.difference_update(mine - kept)

    def settle(self, claim: Problem | Claim | None, accepted: bool, new_id: uuid.UUID) -> None:
        """The verdict on a replacement: void its original, or give back what it held."""
        if not isinstance(claim, Claim):
            return
        original = claim.original
        if accepted:
            self.voids.append((original, new_id))
            return
        del self.claimed[original.id]
        self.numbers.add(dm.number_key(original.external_id, original.identifier_system))
        self.services.update(claim.services)

    def void_all(self) -> list[journal.Move]:
        """Void the originals of the accepted replacements; their moves for the journal."""
        if not self.voids:
            return []
        at = utcnow()
        store.mark_voided(self.session, [o.id for o, _ in self.voids], at)
        moves = []
        for original, new_id in self.voids:
            referrals.release_for_document(self.session, original.id)
            move = transition(
                S(original.status),
                S.VOIDED,
                actor=self.actor,
                reason=f"replaced by document {new_id}",
                at=at,
            )
            details = {"replaced_by": str(new_id)}
            moves.append(
                journal.Move(original.id, self.centre_id, original.external_id, move, details)
            )
        count = len(self.voids)
        after_commit(self.session, lambda: metrics.VOIDS.labels("replacement").inc(count))
        self.voids = []
        return moves


def problem_of(claim: Problem | Claim | None) -> list[Problem]:
    """The problem ``prepare`` found for a document, as a list to add to its problems."""
    return [claim] if isinstance(claim, Problem) else []
