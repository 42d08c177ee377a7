"""identifier system: a FHIR Claim's document number is its identifier's value, and an
identifier is the pair (system, value); the system is kept beside the number and a
centre's live document is unique by number and system (empty for the XML and JSON doors,
whose numbers have no system), so the same value under another system is another document

Downgrade: the old key (number alone) is rebuilt; it fails while two live documents of a
centre share a number under different systems, which only this revision allows.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 07:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = 'uq_documents_centre_number_live'
LIVE = sa.text("status <> 'REJECTED'")


def _key(columns: list[str]) -> None:
    op.create_index(
        KEY, 'documents', columns, unique=True, postgresql_where=LIVE, sqlite_where=LIVE
    )


def upgrade() -> None:
    # A constant default: PostgreSQL records it without rewriting the table.
    op.add_column(
        'documents',
        sa.Column('identifier_system', sa.String(length=255), server_default='', nullable=False),
    )
    op.drop_index(KEY, table_name='documents')
    _key(['centre_id', 'external_id', 'identifier_system'])


def downgrade() -> None:
    op.drop_index(KEY, table_name='documents')
    _key(['centre_id', 'external_id'])
    op.drop_column('documents', 'identifier_system')
