"""The tamper-evident audit trail: an append-only chain of entries, each carrying the
SHA-256 of the one before it.

An entry's hash covers its sequence number, time, actor, action, subject and details,
and the previous entry's hash; the single ``audit_head`` row holds the last link and is
locked while appending (on SQLite, by taking the write lock before reading it), so
concurrent writers, in one process or several, form one chain. ``verify`` walks the chain
in sequence order and names the first entry that was edited, deleted, inserted or moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.orm import Session

from gateway.audit import repository as store
from gateway.storage.models import AuditEntry

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Record:
    """Something to append: who did what to which subject, with JSON-safe details."""

    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@lru_cache(maxsize=64)  # the moves of one transaction share their time
def _instant(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def link_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any],
) -> str:
    body = orjson.dumps(
        {
            "seq": seq,
            "at": _instant(at),
            "actor": actor,
            "action": action,
            "subject": [subject_type, subject_id],
            "details": details,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


def append(session: Session, records: Sequence[Record]) -> None:
    """Append records in order, in the caller's transaction (they land with its commit)."""
    if not records:
        return
    seq, prev = store.lock_head(session)
    now = datetime.now(UTC)
    rows = []
    for record in records:
        seq += 1
        at = record.at or now
        digest = link_hash(
            prev,
            seq=seq,
            at=at,
            actor=record.actor,
            action=record.action,
            subject_type=record.subject_type,
            subject_id=record.subject_id,
            details=record.details,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": record.actor,
                "action": record.action,
                "subject_type": record.subject_type,
                "subject_id": record.subject_id,
                "details": record.details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    store.add_entries(session, rows)
    store.move_head(session, seq, prev)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""


def verify(session: Session, batch: int = 5000) -> Verdict:
    """Check every link; the first entry that does not fit is named with what is wrong."""
    expected_seq, prev = 1, GENESIS
    checked = 0
    for entry in store.every_entry(session, batch):
        problem = _check(entry, expected_seq, prev)
        if problem:
            return Verdict(False, checked, entry.seq, entry.id, problem)
        checked += 1
        expected_seq, prev = entry.seq + 1, entry.hash
    head = store.head(session)
    if head.seq != expected_seq - 1 or head.hash != prev:
        return Verdict(
            False,
            checked,
            expected_seq,
            None,
            f"the chain ends at entry {expected_seq - 1} but its head records entry "
            f"{head.seq}: entries after {expected_seq - 1} were deleted",
        )
    return Verdict(True, checked)


def verify_newest(session: Session, count: int) -> Verdict:
    """Check the newest ``count`` links against each other, the first against the entry
    before it, and the last against the head: a cheap check to run often, where ``verify``
    walks the whole chain."""
    head = store.head(session)
    first = max(head.seq - count + 1, 1)
    entries = store.entries_between(session, first - 1, head.seq)
    prev = GENESIS
    if first > 1:
        before = entries.pop(0) if entries and entries[0].seq == first - 1 else None
        if before is None:
            return Verdict(False, 0, first - 1, None, f"entry {first - 1} is missing: deleted")
        prev = before.hash
    expected_seq = first
    for entry in entries:
        problem = _check(entry, expected_seq, prev)
        if problem:
            return Verdict(False, expected_seq - first, entry.seq, entry.id, problem)
        expected_seq, prev = entry.seq + 1, entry.hash
    if expected_seq - 1 != head.seq or prev != head.hash:
        return Verdict(
            False,
            expected_seq - first,
            expected_seq,
            None,
            f"the chain ends at entry {expected_seq - 1} but its head records entry "
            f"{head.seq}: entries were deleted or the last one edited",
        )
    return Verdict(True, expected_seq - first)


def _check(entry: AuditEntry, expected_seq: int, prev: str) -> str:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (found {entry.seq} next): deleted or moved"
    if entry.prev_hash != prev:
        return "its previous-hash does not match the entry before it: reordered or inserted"
    recomputed = link_hash(
        prev,
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        details=entry.details,
    )
    if recomputed != entry.hash:
        return "its content does not match its hash: edited"
    return ""


def entries_for(
    session: Session, subject_type: str, subject_ids: Iterable[str]
) -> list[AuditEntry]:
    """The entries about these subjects, in sequence order."""
    return store.entries_for(session, subject_type, subject_ids)
