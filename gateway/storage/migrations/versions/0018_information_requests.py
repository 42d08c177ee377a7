"""information requests: an auditor asks a document's centre for information (the
document waits in INFO_REQUESTED), the centre answers with text and attachments, stored
once by their SHA-256

The documents' status check and the status history's allowed moves learn INFO_REQUESTED
(UNDER_REVIEW -> INFO_REQUESTED -> UNDER_REVIEW). On PostgreSQL the history is partitioned
by month and each partition holds its own copy of the check (made with LIKE ... INCLUDING
CONSTRAINTS), so the old copies are dropped from every partition before the new check is
added to the parent (which adds it to them all).

Downgrade: fails while a document is INFO_REQUESTED or the history holds such a move (the
old checks refuse them); answer or drop those first.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-02 09:30:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = [
    'ACCEPTED', 'APPEALED', 'APPROVED', 'DENIED', 'PAID', 'PAYMENT_ORDERED', 'PRICED',
    'RECEIVED', 'REJECTED', 'UNDER_REVIEW',
]
MOVES = [
    '>RECEIVED', 'ACCEPTED>PRICED', 'APPEALED>UNDER_REVIEW', 'APPROVED>APPEALED',
    'APPROVED>PAYMENT_ORDERED', 'DENIED>APPEALED', 'PAYMENT_ORDERED>PAID', 'PRICED>APPROVED',
    'PRICED>UNDER_REVIEW', 'RECEIVED>ACCEPTED', 'RECEIVED>REJECTED', 'UNDER_REVIEW>APPROVED',
    'UNDER_REVIEW>DENIED',
]
NEW_STATUSES = ['INFO_REQUESTED']
NEW_MOVES = ['INFO_REQUESTED>UNDER_REVIEW', 'UNDER_REVIEW>INFO_REQUESTED']
STATUS_CHECK = 'ck_documents_status'
MOVE_CHECK = 'ck_status_events_allowed_move'


def _listed(values: list[str]) -> str:
    return ', '.join(f"'{v}'" for v in sorted(values))


def _status_rule(statuses: list[str]) -> str:
    return f'status IN ({_listed(statuses)})'


def _move_rule(moves: list[str]) -> str:
    return f"(COALESCE(from_status, '') || '>' || to_status) IN ({_listed(moves)})"


def _checks(statuses: list[str], moves: list[str]) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE documents DROP CONSTRAINT {STATUS_CHECK}')
        op.execute(f'ALTER TABLE documents ADD CONSTRAINT {STATUS_CHECK} CHECK ({_status_rule(statuses)})')
        op.execute(f'ALTER TABLE status_events DROP CONSTRAINT {MOVE_CHECK}')
        partitions = op.get_bind().execute(sa.text(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent = 'status_events'::regclass"
        )).scalars().all()
        for partition in partitions:
            op.execute(f'ALTER TABLE {partition} DROP CONSTRAINT IF EXISTS {MOVE_CHECK}')
        op.execute(f'ALTER TABLE status_events ADD CONSTRAINT {MOVE_CHECK} CHECK ({_move_rule(moves)})')
        return
    with op.batch_alter_table('documents') as batch_op:
        batch_op.drop_constraint(op.f(STATUS_CHECK), type_='check')
        batch_op.create_check_constraint(op.f(STATUS_CHECK), _status_rule(statuses))
    with op.batch_alter_table('status_events') as batch_op:
        batch_op.drop_constraint(op.f(MOVE_CHECK), type_='check')
        batch_op.create_check_constraint(op.f(MOVE_CHECK), _move_rule(moves))


def upgrade() -> None:
    op.create_table('information_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('attachment_kinds', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_information_requests_centre_id_centres')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_information_requests_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_information_requests'))
    )
    op.create_index('ix_information_requests_document', 'information_requests', ['document_id', 'requested_at'])
    op.create_index(
        'ix_information_requests_open', 'information_requests', ['due_at'],
        postgresql_where=sa.text('answered_at IS NULL'), sqlite_where=sa.text('answered_at IS NULL'),
    )
    op.create_table('information_answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=100), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['information_requests.id'], name=op.f('fk_information_answers_request_id_information_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_information_answers'))
    )
    op.create_index('ix_information_answers_request', 'information_answers', ['request_id', 'id'])
    op.create_table('attachments',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')", name=op.f('ck_attachments_content_type')),
    sa.CheckConstraint('size > 0', name=op.f('ck_attachments_size')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_attachments'))
    )
    op.create_table('information_answer_attachments',
    sa.Column('answer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['information_answers.id'], name=op.f('fk_information_answer_attachments_answer_id_information_answers')),
    sa.ForeignKeyConstraint(['sha256'], ['attachments.sha256'], name=op.f('fk_information_answer_attachments_sha256_attachments')),
    sa.PrimaryKeyConstraint('answer_id', 'position', name=op.f('pk_information_answer_attachments'))
    )
    op.create_index('ix_information_answer_attachments_sha256', 'information_answer_attachments', ['sha256'])
    _checks(STATUSES + NEW_STATUSES, MOVES + NEW_MOVES)


def downgrade() -> None:
    _checks(STATUSES, MOVES)
    op.drop_index('ix_information_answer_attachments_sha256', table_name='information_answer_attachments')
    op.drop_table('information_answer_attachments')
    op.drop_table('attachments')
    op.drop_index('ix_information_answers_request', table_name='information_answers')
    op.drop_table('information_answers')
    op.drop_index('ix_information_requests_open', table_name='information_requests')
    op.drop_index('ix_information_requests_document', table_name='information_requests')
    op.drop_table('information_requests')
