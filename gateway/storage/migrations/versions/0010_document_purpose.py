"""document purpose: a bill, or a preauthorization or predetermination answered with an
estimate (FHIR Claim.use); only bills are settled or count as paid services

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 16:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL records it without rewriting the table.
    op.add_column(
        'documents',
        sa.Column('purpose', sa.String(length=20), server_default='claim', nullable=False),
    )


def downgrade() -> None:
    op.drop_column('documents', 'purpose')
