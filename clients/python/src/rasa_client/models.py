"""What the gateway answers, as small typed records (each keeps the whole answer in ``raw``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasa_client.errors import GatewayError, Problem

# Where a document rests once the gateway has decided on it (it may still be appealed).
DECIDED = frozenset({"REJECTED", "APPROVED", "DENIED", "PAYMENT_ORDERED", "PAID", "VOIDED"})
# Statuses from which nothing moves any more.
FINAL = frozenset({"REJECTED", "PAID", "VOIDED"})
# Pricing is done: priced, in review or decided (or waiting for the centre's information).
PROCESSED = DECIDED | {"PRICED", "UNDER_REVIEW", "INFO_REQUESTED", "APPEALED"}
BATCH_ENDED = frozenset({"done", "failed"})


def _problems(value: Any) -> list[Problem]:
    return [Problem.from_json(item) for item in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """A document as the submission's answer lists it."""

    id: str
    external_id: str
    status: str
    errors: list[Problem]
    warnings: list[Problem]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> DocumentSummary:
        return cls(
            id=str(value["id"]),
            external_id=str(value.get("external_id", "")),
            status=str(value["status"]),
            errors=_problems(value.get("errors")),
            warnings=_problems(value.get("warnings")),
            raw=value,
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """The answer to a submission: accepted (in part) or rejected, document by document."""

    id: str
    status: str
    documents: list[DocumentSummary]
    location: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, value: dict[str, Any], location: str | None = None) -> Submission:
        return cls(
            id=str(value["id"]),
            status=str(value["status"]),
            documents=[DocumentSummary.from_json(d) for d in value.get("documents", [])],
            location=location,
            raw=value,
        )


@dataclass(frozen=True, slots=True)
class Document:
    """``GET /v1/documents/{id}``: status, totals, lines and history (all in ``raw``)."""

    id: str
    external_id: str
    status: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def totals(self) -> dict[str, Any]:
        totals = self.raw.get("totals")
        return totals if isinstance(totals, dict) else {}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Document:
        return cls(str(value["id"]), str(value.get("external_id", "")), str(value["status"]), value)


@dataclass(frozen=True, slots=True)
class Batch:
    """``GET /v1/batches/{id}``: progress counts, and the envelope's errors if it failed."""

    id: str
    status: str
    sha256: str
    documents_read: int
    accepted: int
    rejected: int
    priced: int
    errors: list[Problem]
    replayed: bool
    raw: dict[str, Any] = field(repr=False)

    @property
    def ended(self) -> bool:
        return self.status in BATCH_ENDED

    @classmethod
    def from_json(cls, value: dict[str, Any], *, replayed: bool = False) -> Batch:
        return cls(
            id=str(value["id"]),
            status=str(value["status"]),
            sha256=str(value.get("sha256", "")),
            documents_read=int(value.get("documents_read", 0)),
            accepted=int(value.get("accepted", 0)),
            rejected=int(value.get("rejected", 0)),
            priced=int(value.get("priced", 0)),
            errors=_problems(value.get("errors")),
            replayed=replayed,
            raw=value,
        )


@dataclass(frozen=True, slots=True)
class FolderItem:
    """One file of a folder: its submission, or why it was not sent or was refused."""

    path: Path
    submission: Submission | None = None
    error: GatewayError | ValueError | None = None
