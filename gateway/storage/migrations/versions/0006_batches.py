"""batches: large files spooled to disk, stored a chunk at a time, resumable

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:40:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('batches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('file_path', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('documents_read', sa.Integer(), nullable=False),
    sa.Column('last_ordinal', sa.Integer(), nullable=True),
    sa.Column('accepted_count', sa.Integer(), nullable=False),
    sa.Column('rejected_count', sa.Integer(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("format IN ('xml', 'json')", name=op.f('ck_batches_format')),
    sa.CheckConstraint("status IN ('done', 'failed', 'processing', 'received')", name=op.f('ck_batches_status')),
    sa.CheckConstraint('last_ordinal IS NULL OR last_ordinal = documents_read - 1', name=op.f('ck_batches_resume')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_batches_centre_id_centres')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_batches_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches')),
    sa.UniqueConstraint('centre_id', 'sha256', name='uq_batches_centre_sha256'),
    sa.UniqueConstraint('submission_id', name=op.f('uq_batches_submission_id'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_centre_received', ['centre_id', 'received_at'], unique=False)
        batch_op.create_index('ix_batches_status', ['status'], unique=False)

    op.create_table('batch_rejections',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=True),
    sa.Column('source_path', sa.String(length=200), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_rejections_batch_id_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_rejections')),
    sa.UniqueConstraint('batch_id', 'ordinal', name='uq_batch_rejections_ordinal')
    )


def downgrade() -> None:
    op.drop_table('batch_rejections')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_status')
        batch_op.drop_index('ix_batches_centre_received')
    op.drop_table('batches')
