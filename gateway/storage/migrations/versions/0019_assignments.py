"""review_claims: which auditor holds a document under review, until when; and the
documents' prefix-search indexes of the review queue

Revision ID: 0019
Revises: 0020
Create Date: 2026-12-02 09:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'review_claims',
        sa.Column('document_id', sa.Uuid(), nullable=False),
        sa.Column('holder_id', sa.Integer(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['document_id'], ['documents.id'],
            name=op.f('fk_review_claims_document_id_documents'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['holder_id'], ['staff_users.id'], name=op.f('fk_review_claims_holder_id_staff_users')
        ),
        sa.PrimaryKeyConstraint('document_id', name=op.f('pk_review_claims')),
        sa.CheckConstraint('expires_at > claimed_at', name=op.f('ck_review_claims_lapses')),
    )
    op.create_index('ix_review_claims_holder', 'review_claims', ['holder_id', 'expires_at'])
    # The queue's prefix searches (LIKE 'prefix%') use a btree on PostgreSQL only with the
    # pattern operator class.
    op.create_index(
        'ix_documents_number_prefix', 'documents', ['external_id'],
        postgresql_ops={'external_id': 'text_pattern_ops'},
    )
    op.create_index(
        'ix_documents_patient_prefix', 'documents', ['patient_national_id'],
        postgresql_ops={'patient_national_id': 'text_pattern_ops'},
    )


def downgrade() -> None:
    op.drop_index('ix_documents_patient_prefix', table_name='documents')
    op.drop_index('ix_documents_number_prefix', table_name='documents')
    op.drop_index('ix_review_claims_holder', table_name='review_claims')
    op.drop_table('review_claims')
