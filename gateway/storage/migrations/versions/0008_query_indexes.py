"""query indexes: one for every query centres, auditors, workers and the relay run

Each search order (service date newest first, then creation, then id) gets an index in
that exact order, by status, by centre and alone; the sweeper's ACCEPTED documents, the
relay's unpublished messages and settled documents get partial indexes; deductions by
line and deliveries by webhook get the indexes they lacked. docs/database.md lists which
query each one serves.

On PostgreSQL the indexes are built CONCURRENTLY (writes go on while a big table is
indexed), so this migration runs outside a transaction there; IF [NOT] EXISTS lets a run
that stopped half-way be run again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_ORDER = (sa.text('service_date DESC'), sa.text('created_at DESC'), 'id')


def _where(condition: str) -> dict[str, Any]:
    return {'postgresql_where': sa.text(condition), 'sqlite_where': sa.text(condition)}


# (name, table, columns, options); the indexes they replace are in REPLACED.
ADDED: list[tuple[str, str, list[Any], dict[str, Any]]] = [
    ('ix_documents_status_service', 'documents', ['status', *SEARCH_ORDER], {}),
    ('ix_documents_centre_service', 'documents', ['centre_id', *SEARCH_ORDER], {}),
    ('ix_documents_service', 'documents', [*SEARCH_ORDER], {}),
    ('ix_documents_awaiting_pricing', 'documents', ['updated_at'], _where("status = 'ACCEPTED'")),
    (
        'ix_documents_payment_order', 'documents', ['payment_order_id'],
        _where('payment_order_id IS NOT NULL'),
    ),
    ('ix_line_deductions_reason_document', 'line_deductions', ['reason', 'document_id'], {}),
    ('ix_line_deductions_line', 'line_deductions', ['line_id'], {}),
    ('ix_webhook_deliveries_webhook', 'webhook_deliveries', ['webhook_id', 'id'], {}),
    ('ix_outbox_unpublished', 'outbox', ['id'], _where('published_at IS NULL')),
]
REPLACED: list[tuple[str, str, list[Any]]] = [
    ('ix_documents_status_updated', 'documents', ['status', 'updated_at']),
    ('ix_documents_centre_payment_order', 'documents', ['centre_id', 'payment_order_id']),
    ('ix_line_deductions_reason', 'line_deductions', ['reason']),
    ('ix_outbox_pending', 'outbox', ['published_at', 'id']),
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _outside_transaction() -> AbstractContextManager[Any]:
    return op.get_context().autocommit_block() if _postgresql() else nullcontext()


def upgrade() -> None:
    concurrently = {'postgresql_concurrently': True} if _postgresql() else {}
    with _outside_transaction():
        for name, table, columns, options in ADDED:
            op.create_index(name, table, columns, if_not_exists=True, **options, **concurrently)
        for name, table, _ in REPLACED:
            op.drop_index(name, table_name=table, if_exists=True, **concurrently)


def downgrade() -> None:
    concurrently = {'postgresql_concurrently': True} if _postgresql() else {}
    with _outside_transaction():
        for name, table, columns in REPLACED:
            op.create_index(name, table, columns, if_not_exists=True, **concurrently)
        for name, table, _, _ in ADDED:
            op.drop_index(name, table_name=table, if_exists=True, **concurrently)
