"""Recording status moves: one call writes, in the caller's transaction, the status
history rows, their hash-chained audit entries and, for centres with webhooks, an outbox
message per webhook and move (delivered later by a worker, signed, with retries).

Every place that moves a document (ingest, pricing, review, appeal, settlement) goes
through ``record``; nothing else writes ``status_events``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.domain.lifecycle import DocumentStatus, Transition
from gateway.kit import bulk
from gateway.kit.broker import DELIVER_WEBHOOK
from gateway.kit.outbox import Pending
from gateway.storage.models import OutboxMessage, StatusEvent, Webhook, utcnow

WEBHOOK_TASK = DELIVER_WEBHOOK
EVENT_TYPE = "document.status_changed"
# Moves a receiver may want to tell apart by type alone; their data is the same.
EVENT_TYPES = {DocumentStatus.VOIDED: "document.voided"}


@dataclass(frozen=True, slots=True)
class Move:
    document_id: uuid.UUID
    centre_id: int
    external_id: str
    move: Transition
    details: dict[str, Any] = field(default_factory=dict)


def status_event_values(move: Move) -> dict[str, Any]:
    m = move.move
    return {
        "document_id": move.document_id,
        "from_status": m.from_status.value if m.from_status else None,
        "to_status": m.to_status.value,
        "actor": m.actor,
        "reason": m.reason,
        "created_at": m.at,
    }


def event_of(move: Move) -> dict[str, Any]:
    """The JSON event a centre's webhook receives for one move."""
    m = move.move
    data = {
        "document_id": str(move.document_id),
        "external_id": move.external_id,
        "from_status": m.from_status.value if m.from_status else None,
        "to_status": m.to_status.value,
        "reason": m.reason,
        "url": f"/v1/documents/{move.document_id}",
    }
    if "replaced_by" in move.details:
        data["replaced_by"] = move.details["replaced_by"]
    return {
        "id": str(uuid.uuid4()),
        "type": EVENT_TYPES.get(m.to_status, EVENT_TYPE),
        "created_at": m.at.isoformat(),
        "data": data,
    }


def record(
    session: Session, moves: Sequence[Move], webhooks: Mapping[int, list[int]] | None = None
) -> list[Pending]:
    """Write the moves' history, audit entries and webhook messages; return the messages.
    ``webhooks`` are the live webhooks of the moves' centres when the caller read them
    already in this transaction (else they are read here)."""
    if not moves:
        return []
    bulk.insert_dicts(session, StatusEvent, [status_event_values(m) for m in moves])
    audit.append(
        session,
        [
            audit.Record(
                actor=m.move.actor,
                action="document.status",
                subject_type="document",
                subject_id=str(m.document_id),
                details={
                    "from": m.move.from_status.value if m.move.from_status else None,
                    "to": m.move.to_status.value,
                    "reason": m.move.reason,
                    **m.details,
                },
                at=m.move.at,
            )
            for m in moves
        ],
    )
    return _queue_webhooks(session, moves, webhooks)


def _queue_webhooks(
    session: Session, moves: Sequence[Move], webhooks: Mapping[int, list[int]] | None
) -> list[Pending]:
    hooks: Mapping[int, list[int]]
    if webhooks is None:
        hooks = defaultdict(list)
        query = select(Webhook.id, Webhook.centre_id).where(
            Webhook.centre_id.in_({m.centre_id for m in moves}), Webhook.disabled_at.is_(None)
        )
        for hook_id, centre_id in session.execute(query):
            hooks[centre_id].append(hook_id)
    else:
        hooks = webhooks
    if not hooks:
        return []
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "task": WEBHOOK_TASK,
            "payload": {"webhook_id": hook_id, "event": event_of(m)},
            "created_at": now,
            "attempts": 0,
        }
        for m in moves
        for hook_id in hooks.get(m.centre_id, ())
    ]
    if not rows:
        return []
    ids = session.scalars(
        insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows
    ).all()
    return [Pending(i, r["task"], r["payload"]) for i, r in zip(ids, rows, strict=True)]


def notify(
    session: Session, *, centre_id: int, event_type: str, data: dict[str, Any], at: datetime
) -> list[Pending]:
    """Queue one event other than a move (a request for information, its answer) for every
    live webhook of the centre, in the caller's transaction; return the messages."""
    hooks = list(
        session.scalars(
            select(Webhook.id).where(Webhook.centre_id == centre_id, Webhook.disabled_at.is_(None))
        )
    )
    if not hooks:
        return []
    event = {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "created_at": at.isoformat(),
        "data": data,
    }
    rows: list[dict[str, Any]] = [
        {
            "task": WEBHOOK_TASK,
            "payload": {"webhook_id": hook_id, "event": event},
            "created_at": utcnow(),
            "attempts": 0,
        }
        for hook_id in hooks
    ]
    ids = session.scalars(
        insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows
    ).all()
    return [Pending(i, r["task"], r["payload"]) for i, r in zip(ids, rows, strict=True)]
