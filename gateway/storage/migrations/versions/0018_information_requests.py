"""information requests: an auditor asks a document's centre for information (the
document waits in INFO_REQUESTED), the centre answers with text and attachments, stored
once by their SHA-256

The documents' status check and the status history's allowed moves learn INFO_REQUESTED
(UNDER_REVIEW -> INFO_REQUESTED -> UNDER_REVIEW). On PostgreSQL the history is partitioned
by month and each partition holds its own copy of the check (made with LIKE ... INCLUDING
CONSTRAINTS), so the old copies are dropped from every partition before the new check is
added to the parent (which adds it to them all). Each check is widened from what it admits
now (read from the database), so a revision of the same time widening it too (VOIDED) keeps
its values whichever of the two runs first.

Downgrade: drops the tables (and the questions, answers and attachments in them) and
narrows the documents' status check again, which fails while a document is INFO_REQUESTED
(answer its request first); the history's check keeps the two moves, so the history
recorded meanwhile stays as it is.

Revision ID: 0018
Revises: 0021
Create Date: 2026-12-02 09:30:00.000000
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_STATUSES = {'INFO_REQUESTED'}
NEW_MOVES = {'INFO_REQUESTED>UNDER_REVIEW', 'UNDER_REVIEW>INFO_REQUESTED'}
STATUS_CHECK = 'ck_documents_status'
MOVE_CHECK = 'ck_status_events_allowed_move'
# The quoted values of each check that are statuses, or moves ('' > status is a birth).
STATUS_VALUE = re.compile(r'[A-Z_]+')
MOVE_VALUE = re.compile(r'[A-Z_]*>[A-Z_]+')


def _listed(values: set[str]) -> str:
    return ', '.join(f"'{v}'" for v in sorted(values))


def _status_rule(statuses: set[str]) -> str:
    return f'status IN ({_listed(statuses)})'


def _move_rule(moves: set[str]) -> str:
    return f"(COALESCE(from_status, '') || '>' || to_status) IN ({_listed(moves)})"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _sqlite_span(sql: str, name: str) -> tuple[int, int]:
    """Where the named check's expression (in its parentheses) sits in a table's SQL."""
    marker = f'CONSTRAINT {name} CHECK ('
    start = sql.find(marker)
    if start < 0 or sql.find(marker, start + 1) >= 0:
        raise RuntimeError(f'expected one check {name}')
    depth, end = 0, start + len(marker) - 1
    for end in range(end, len(sql)):
        depth += {'(': 1, ')': -1}.get(sql[end], 0)
        if depth == 0:
            break
    return start + len(marker), end


def _table_sql(table: str) -> str:
    return str(op.get_bind().execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {'t': table}
    ).scalar_one())


def _allowed(table: str, name: str, value: re.Pattern[str]) -> set[str]:
    """The values the check admits now. Read, not assumed: another revision of the same
    time may have widened it too (the chain's order decides which runs first)."""
    if _postgresql():
        definition = str(op.get_bind().execute(sa.text(
            'SELECT pg_get_constraintdef(oid) FROM pg_constraint'
            ' WHERE conname = :n AND conrelid = CAST(:t AS regclass)'
        ), {'n': name, 't': table}).scalar_one())
    else:
        sql = _table_sql(table)
        start, end = _sqlite_span(sql, name)
        definition = sql[start:end]
    return {v for v in re.findall(r"'([^']*)'", definition) if value.fullmatch(v)}


def _sqlite_check(table: str, name: str, rule: str) -> None:
    """Put ``rule`` in place of the named check in the table's stored definition.

    SQLite cannot alter a check, and rebuilding ``documents`` (the batch way) fails while
    other tables' rows reference it with foreign keys enforced, and costs a copy of the
    biggest table. A check's text is all that changes (the rows on disk are the same), the
    case SQLite's documentation ("Making Other Kinds Of Table Schema Changes") allows to
    edit in the schema directly, bumping schema_version so every connection re-reads it.
    """
    bind = op.get_bind()
    sql = _table_sql(table)
    start, end = _sqlite_span(sql, name)
    edited = f'{sql[:start]}{rule}{sql[end:]}'
    version = bind.execute(sa.text('PRAGMA schema_version')).scalar_one()
    bind.execute(sa.text('PRAGMA writable_schema = ON'))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {'sql': edited, 't': table},
    )
    bind.execute(sa.text(f'PRAGMA schema_version = {int(version) + 1}'))
    bind.execute(sa.text('PRAGMA writable_schema = OFF'))


def _status_check(statuses: set[str]) -> None:
    rule = _status_rule(statuses)
    if _postgresql():
        op.execute(f'ALTER TABLE documents DROP CONSTRAINT {STATUS_CHECK}')
        op.execute(f'ALTER TABLE documents ADD CONSTRAINT {STATUS_CHECK} CHECK ({rule})')
        return
    # The schema edit skips the check of existing rows that ADD CONSTRAINT makes: do it.
    outside = op.get_bind().execute(
        sa.text(f'SELECT count(*) FROM documents WHERE NOT ({rule})')
    ).scalar_one()
    if outside:
        raise RuntimeError(f'{outside} document(s) have a status this revision does not know')
    _sqlite_check('documents', STATUS_CHECK, rule)


def _move_check(moves: set[str]) -> None:
    rule = _move_rule(moves)
    if _postgresql():
        op.execute(f'ALTER TABLE status_events DROP CONSTRAINT {MOVE_CHECK}')
        partitions = op.get_bind().execute(sa.text(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent = 'status_events'::regclass"
        )).scalars().all()
        for partition in partitions:
            op.execute(f'ALTER TABLE {partition} DROP CONSTRAINT IF EXISTS {MOVE_CHECK}')
        op.execute(f'ALTER TABLE status_events ADD CONSTRAINT {MOVE_CHECK} CHECK ({rule})')
        return
    _sqlite_check('status_events', MOVE_CHECK, rule)


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
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=100), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_information_requests_centre_id_centres')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_information_requests_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_information_requests'))
    )
    op.create_index('ix_information_requests_document', 'information_requests', ['document_id', 'requested_at'])
    op.create_index(
        'ix_information_requests_open', 'information_requests', ['due_at'],
        postgresql_where=sa.text('answered_at IS NULL AND withdrawn_at IS NULL'),
        sqlite_where=sa.text('answered_at IS NULL AND withdrawn_at IS NULL'),
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
    _status_check(_allowed('documents', STATUS_CHECK, STATUS_VALUE) | NEW_STATUSES)
    _move_check(_allowed('status_events', MOVE_CHECK, MOVE_VALUE) | NEW_MOVES)


def downgrade() -> None:
    # The history's check keeps admitting the two moves: rows this revision recorded stay
    # valid history, and the older code never makes such a move.
    _status_check(_allowed('documents', STATUS_CHECK, STATUS_VALUE) - NEW_STATUSES)
    op.drop_index('ix_information_answer_attachments_sha256', table_name='information_answer_attachments')
    op.drop_table('information_answer_attachments')
    op.drop_table('attachments')
    op.drop_index('ix_information_answers_request', table_name='information_answers')
    op.drop_table('information_answers')
    op.drop_index('ix_information_requests_open', table_name='information_requests')
    op.drop_index('ix_information_requests_document', table_name='information_requests')
    op.drop_table('information_requests')
