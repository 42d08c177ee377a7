"""Celery tasks: thin wrappers that take ids, open a transaction and call a service."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.broker import DELIVER_WEBHOOK, PRICE_DOCUMENT, PRICE_DOCUMENTS
from gateway.kit.db import engine_for, session_factory, transaction
from gateway.pricing.service import (
    NoTariffError,
    Policies,
    TariffCache,
    price_stored_document,
    price_stored_documents,
)
from gateway.settings import get_settings
from gateway.webhooks.delivery import deliver_webhook
from workers import deadletters  # noqa: F401  (records tasks given up on)
from workers.app import celery_app

_books = TariffCache()

# Acknowledged only once done, sent back to the queue if the worker dies, retried while
# the database or the tariff is missing; a rerun is harmless (pricing skips done work).
RELIABLE: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, DBAPIError, NoTariffError),
    "retry_backoff": True,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 12,
}


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    # Created lazily, so each forked worker child opens its own connections.
    return session_factory(engine_for(get_settings().database_url))


@celery_app.task(name=PRICE_DOCUMENTS, **RELIABLE)
def price_documents_task(document_ids: list[str]) -> dict[str, int]:
    """Price a batch of documents in one transaction."""
    with transaction(_sessions()) as session:
        return price_stored_documents(
            session=session,
            ids=[uuid.UUID(document_id) for document_id in document_ids],
            books=_books,
            policies=_policies(),
        )


@celery_app.task(name=PRICE_DOCUMENT, **RELIABLE)
def price_document_task(document_id: str) -> str:
    """One document (what ingest sends today), priced as a batch of one."""
    with transaction(_sessions()) as session:
        return price_stored_document(
            session=session,
            document_id=uuid.UUID(document_id),
            books=_books,
            policies=_policies(),
        )


@lru_cache(maxsize=1)
def _policies() -> Policies:
    return Policies.from_settings(get_settings())


# Applied as a call, not as a decorator: Celery's decorator is untyped. A database error
# is retried by Celery itself (the attempt may then be sent again: at least once).
deliver_webhook_task = celery_app.task(
    name=DELIVER_WEBHOOK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, DBAPIError),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=12,
)(deliver_webhook)
