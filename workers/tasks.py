"""Celery tasks: thin wrappers that take ids, open a transaction and call a service."""

from __future__ import annotations

import uuid
from functools import lru_cache

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import get_settings
from gateway.storage.db import engine_for, session_factory, transaction
from workers.app import PRICE_DOCUMENT, celery_app
from workers.service import NoTariffError, Policies, TariffCache, price_stored_document

_books = TariffCache()


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    # Created lazily, so each forked worker child opens its own connections.
    return session_factory(engine_for(get_settings().database_url))


@celery_app.task(
    name=PRICE_DOCUMENT,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, DBAPIError, NoTariffError),
    retry_backoff=True,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=12,
)
def price_document_task(document_id: str) -> str:
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
