"""void and replace: a centre may void its own document until it is approved (or replace
it by a corrected one, which voids it): the status VOIDED, the moves into it, and a voided
document no longer holds its number (the unique key of live numbers leaves it out, so a
replacement may reuse the number)

PostgreSQL: status_events is partitioned by month (0009), and each month's partition was
made LIKE the parent with its own copy of the allowed-moves check; dropping the parent's
check leaves those copies, so they are dropped one by one before the new check is added
to the parent (which adds it to every partition). SQLite: the two tables are rebuilt in
batch mode with foreign keys off meanwhile (the rebuild drops and renames documents, which
document_lines and others reference), and the searches' descending indexes, which the
rebuild reflects as ascending, are made again.

Downgrade: refused while any document is VOIDED (the older statuses cannot tell what
became of it, and its history rows would break the older check).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 09:15:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    'ACCEPTED', 'APPEALED', 'APPROVED', 'DENIED', 'PAID', 'PAYMENT_ORDERED', 'PRICED',
    'RECEIVED', 'REJECTED', 'UNDER_REVIEW',
)
NEW_STATUSES = tuple(sorted((*OLD_STATUSES, 'VOIDED')))
OLD_MOVES = (
    '>RECEIVED', 'ACCEPTED>PRICED', 'APPEALED>UNDER_REVIEW', 'APPROVED>APPEALED',
    'APPROVED>PAYMENT_ORDERED', 'DENIED>APPEALED', 'PAYMENT_ORDERED>PAID', 'PRICED>APPROVED',
    'PRICED>UNDER_REVIEW', 'RECEIVED>ACCEPTED', 'RECEIVED>REJECTED', 'UNDER_REVIEW>APPROVED',
    'UNDER_REVIEW>DENIED',
)
VOID_MOVES = ('ACCEPTED>VOIDED', 'DENIED>VOIDED', 'PRICED>VOIDED', 'UNDER_REVIEW>VOIDED')
NEW_MOVES = tuple(sorted((*OLD_MOVES, *VOID_MOVES)))

KEY = 'uq_documents_centre_number_live'
KEY_COLUMNS = ['centre_id', 'external_id', 'identifier_system']
OLD_LIVE = "status <> 'REJECTED'"
NEW_LIVE = "status NOT IN ('REJECTED', 'VOIDED')"

# The indexes in the order searches list documents (newest service first).
SEARCH_ORDER = [sa.text('service_date DESC'), sa.text('created_at DESC'), 'id']
SEARCH_INDEXES = {
    'ix_documents_status_service': ['status'],
    'ix_documents_centre_service': ['centre_id'],
    'ix_documents_service': [],
}

STATUS_CHECK = 'ck_documents_status'
MOVE_CHECK = 'ck_status_events_allowed_move'


def _in(values: Sequence[str]) -> str:
    return ', '.join(f"'{v}'" for v in values)


def _statuses(values: Sequence[str]) -> str:
    return f'status IN ({_in(values)})'


def _moves(values: Sequence[str]) -> str:
    return f"(COALESCE(from_status, '') || '>' || to_status) IN ({_in(values)})"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _live_key(condition: str) -> None:
    op.drop_index(KEY, table_name='documents')
    where = sa.text(condition)
    op.create_index(
        KEY, 'documents', KEY_COLUMNS, unique=True, postgresql_where=where, sqlite_where=where
    )


def _partitions(table: str) -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid'
            ' WHERE i.inhparent = to_regclass(:t) ORDER BY 1'
        ),
        {'t': table},
    )
    return [name for (name,) in rows]


def _checks(statuses: Sequence[str], moves: Sequence[str]) -> None:
    if _postgresql():
        op.execute(f'ALTER TABLE documents DROP CONSTRAINT {STATUS_CHECK}')
        op.execute(f'ALTER TABLE documents ADD CONSTRAINT {STATUS_CHECK} CHECK ({_statuses(statuses)})')
        op.execute(f'ALTER TABLE status_events DROP CONSTRAINT {MOVE_CHECK}')
        for partition in _partitions('status_events'):
            op.execute(f'ALTER TABLE {partition} DROP CONSTRAINT IF EXISTS {MOVE_CHECK}')
        op.execute(f'ALTER TABLE status_events ADD CONSTRAINT {MOVE_CHECK} CHECK ({_moves(moves)})')
        return
    # The rebuilds drop and rename tables others reference.
    op.execute('PRAGMA foreign_keys = OFF')
    with op.batch_alter_table('documents', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f(STATUS_CHECK), type_='check')
        batch_op.create_check_constraint(op.f(STATUS_CHECK), _statuses(statuses))
    with op.batch_alter_table('status_events', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f(MOVE_CHECK), type_='check')
        batch_op.create_check_constraint(op.f(MOVE_CHECK), _moves(moves))
    op.execute('PRAGMA foreign_keys = ON')
    # The rebuild reflects the searches' indexes without their descending order.
    for name, columns in SEARCH_INDEXES.items():
        op.drop_index(name, table_name='documents')
        op.create_index(name, 'documents', [*columns, *SEARCH_ORDER])


def upgrade() -> None:
    _checks(NEW_STATUSES, NEW_MOVES)
    _live_key(NEW_LIVE)


def downgrade() -> None:
    voided = op.get_bind().scalar(sa.text("SELECT count(*) FROM documents WHERE status = 'VOIDED'"))
    if voided:
        raise RuntimeError(
            f'{voided} document(s) are VOIDED; revision 0016 has no such status. '
            'Downgrade refused: restore a backup taken before 0017 instead.'
        )
    _live_key(OLD_LIVE)
    _checks(OLD_STATUSES, OLD_MOVES)
