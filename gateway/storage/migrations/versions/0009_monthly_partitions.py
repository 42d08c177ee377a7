"""monthly partitions: status history, audit trail and webhook deliveries on PostgreSQL

The three append-only tables that grow with every move and that no table references are
range-partitioned by their time column, one partition per UTC month, with a DEFAULT
partition so that an insert never fails for want of a month. The function
``gateway_month_partitions(table, from, to)`` creates missing months (moving any rows the
default partition took for them); this migration makes the months of the rows there are
up to three months ahead, and the sweeper (or ``gateway db partitions``) keeps making
months ahead.

A partitioned table's unique keys must hold the partition key: primary keys become
(id, time); audit_log's UNIQUE (seq) becomes a plain index, the head row's lock and
``gateway audit verify`` keep the sequence whole. Existing rows are copied over.

The big tables that others reference (documents, lines, pricings, deductions) stay plain;
on PostgreSQL they get more eager autovacuum and analyze. SQLite: nothing changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3

# table: (time column, foreign keys (name, column, target), indexes (name, columns),
#         unique constraints of the plain table (name, columns))
PARTITIONED: dict[str, tuple[str, list[tuple[str, str, str]], list[tuple[str, str]],
                             list[tuple[str, str]]]] = {
    'status_events': (
        'created_at',
        [('fk_status_events_document_id_documents', 'document_id', 'documents (id)')],
        [('ix_status_events_document', 'document_id, id')],
        [],
    ),
    'audit_log': (
        'at',
        [],
        [('ix_audit_log_subject', 'subject_type, subject_id')],
        [('uq_audit_log_seq', 'seq')],
    ),
    'webhook_deliveries': (
        'created_at',
        [('fk_webhook_deliveries_webhook_id_webhooks', 'webhook_id', 'webhooks (id)')],
        [
            ('ix_webhook_deliveries_event', 'event_id, attempt'),
            ('ix_webhook_deliveries_webhook', 'webhook_id, id'),
        ],
        [],
    ),
}
# Plain tables that grow to tens of millions of rows: vacuum and analyze after 5% and 2%
# of them changed, not the default 20% and 10% (millions of rows of stale statistics).
BIG = ('documents', 'document_lines', 'line_pricings', 'line_deductions')

MONTH_PARTITIONS = r"""
CREATE FUNCTION gateway_month_partitions(parent text, first_at timestamptz, last_at timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', first_at AT TIME ZONE 'UTC');
    last_month timestamp := date_trunc('month', last_at AT TIME ZONE 'UTC');
    lower_at timestamptz;
    upper_at timestamptz;
    part text;
    key text;
    made integer := 0;
BEGIN
    -- One creator at a time: every API process runs this now and then.
    PERFORM pg_advisory_xact_lock(hashtext('gateway_month_partitions'));
    SELECT a.attname INTO STRICT key
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent::regclass;
    WHILE month <= last_month LOOP
        part := format('%s_y%sm%s', parent, to_char(month, 'YYYY'), to_char(month, 'MM'));
        IF to_regclass(part) IS NULL THEN
            lower_at := month AT TIME ZONE 'UTC';
            upper_at := (month + interval '1 month') AT TIME ZONE 'UTC';
            EXECUTE format(
                'CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                part, parent);
            -- Rows the default partition took for this month move into it.
            EXECUTE format(
                'WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                'INSERT INTO %I SELECT * FROM moved',
                parent || '_default', key, lower_at, key, upper_at, part);
            EXECUTE format(
                'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                parent, part, lower_at, upper_at);
            made := made + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN made;
END
$$
"""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _rebuild(table: str, old: str, *, partitioned: bool) -> None:
    """Create ``table`` anew (partitioned or plain) from ``old``'s columns, defaults and
    checks, with its keys and indexes; the id sequence passes to the new table."""
    key, foreign, indexes, uniques = PARTITIONED[table]
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY NONE')
    layout = f' PARTITION BY RANGE ({key})' if partitioned else ''
    op.execute(
        f'CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){layout}'
    )
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id')
    primary = f'id, {key}' if partitioned else 'id'
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({primary})')
    for name, column, target in foreign:
        op.execute(
            f'ALTER TABLE {table} ADD CONSTRAINT {name} '
            f'FOREIGN KEY ({column}) REFERENCES {target}'
        )
    for name, columns in uniques:
        if partitioned:
            op.execute(f'CREATE INDEX {name.replace("uq_", "ix_", 1)} ON {table} ({columns})')
        else:
            op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns})')
    for name, columns in indexes:
        op.execute(f'CREATE INDEX {name} ON {table} ({columns})')


def _free_names(table: str, old: str, *, partitioned: bool) -> None:
    """Drop the keys and indexes of ``old`` (formerly ``table``, about to be copied and
    dropped), whose names the new table takes."""
    _, _, indexes, uniques = PARTITIONED[table]
    op.execute(f'ALTER TABLE {old} DROP CONSTRAINT pk_{table}')
    for name, _ in uniques:
        if partitioned:
            op.execute(f'DROP INDEX {name.replace("uq_", "ix_", 1)}')
        else:
            op.execute(f'ALTER TABLE {old} DROP CONSTRAINT {name}')
    for name, _ in indexes:
        op.execute(f'DROP INDEX {name}')


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute(MONTH_PARTITIONS)
    for table, (key, *_) in PARTITIONED.items():
        old = f'{table}_unpartitioned'
        op.execute(f'ALTER TABLE {table} RENAME TO {old}')
        _free_names(table, old, partitioned=False)
        _rebuild(table, old, partitioned=True)
        op.execute(f'CREATE TABLE {table}_default PARTITION OF {table} DEFAULT')
        op.execute(
            f"SELECT gateway_month_partitions('{table}', "
            f"(SELECT coalesce(min({key}), now()) FROM {old}), "
            f"now() + interval '{MONTHS_AHEAD} months')"
        )
        op.execute(f'INSERT INTO {table} SELECT * FROM {old}')
        op.execute(f'DROP TABLE {old}')
    for table in BIG:
        op.execute(
            f'ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.05, '
            'autovacuum_analyze_scale_factor = 0.02)'
        )


def downgrade() -> None:
    if not _postgresql():
        return
    for table in BIG:
        op.execute(
            f'ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, '
            'autovacuum_analyze_scale_factor)'
        )
    for table in PARTITIONED:
        old = f'{table}_partitioned'
        op.execute(f'ALTER TABLE {table} RENAME TO {old}')
        _free_names(table, old, partitioned=True)
        _rebuild(table, old, partitioned=False)
        op.execute(f'INSERT INTO {table} SELECT * FROM {old}')
        op.execute(f'DROP TABLE {old}')  # and its partitions
    op.execute('DROP FUNCTION gateway_month_partitions(text, timestamptz, timestamptz)')
