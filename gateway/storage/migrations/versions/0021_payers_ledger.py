"""payers ledger: supplementary policies, charity programmes and enrolments, donations,
and the double-entry ledger (accounts with their running balances, transfers, entries);
a payment order's fund line

On PostgreSQL two triggers back the code: every transfer's entries balance at commit
(a deferred constraint trigger), and entries and transfers are never updated or deleted.
On both databases a donation's account cannot give more than it received (CHECK).

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-02 09:30:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BALANCED = """
CREATE FUNCTION ledger_transfer_balances() RETURNS trigger AS $$
DECLARE
    gap bigint;
BEGIN
    SELECT COALESCE(SUM(debit), 0) - COALESCE(SUM(credit), 0) INTO gap
      FROM ledger_entries WHERE transfer_id = NEW.transfer_id;
    IF gap <> 0 THEN
        RAISE EXCEPTION 'ledger transfer % does not balance (debits - credits = %)',
            NEW.transfer_id, gap USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transfer_balances();
CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"""

UNDO = """
DROP TRIGGER IF EXISTS ledger_transfers_append_only ON ledger_transfers;
DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries;
DROP TRIGGER IF EXISTS ledger_entries_balance ON ledger_entries;
DROP FUNCTION IF EXISTS ledger_append_only();
DROP FUNCTION IF EXISTS ledger_transfer_balances();
"""


def upgrade() -> None:
    op.create_table(
        'supplementary_policies',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('national_id', sa.String(length=10), nullable=False),
        sa.Column('insurer_code', sa.String(length=20), nullable=False),
        sa.Column('insurer_name', sa.String(length=200), nullable=False),
        sa.Column('policy_number', sa.String(length=40), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('copay_share', sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column('uncovered_share', sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column('annual_ceiling', sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            'copay_share >= 0 AND copay_share <= 1',
            name=op.f('ck_supplementary_policies_copay_share'),
        ),
        sa.CheckConstraint(
            'uncovered_share >= 0 AND uncovered_share <= 1',
            name=op.f('ck_supplementary_policies_uncovered_share'),
        ),
        sa.CheckConstraint(
            'annual_ceiling IS NULL OR annual_ceiling >= 0',
            name=op.f('ck_supplementary_policies_ceiling'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supplementary_policies')),
        sa.UniqueConstraint(
            'insurer_code', 'policy_number', 'valid_from',
            name=op.f('uq_supplementary_policies_insurer_code'),
        ),
    )
    op.create_index(
        op.f('ix_supplementary_policies_national_id'),
        'supplementary_policies', ['national_id', 'valid_from'],
    )
    op.create_table(
        'charity_programmes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('province', sa.String(length=60), nullable=True),
        sa.Column('diagnosis_groups', sa.JSON(), nullable=False),
        sa.Column('patient_annual_ceiling', sa.BigInteger(), nullable=False),
        sa.Column('centres', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'patient_annual_ceiling >= 0', name=op.f('ck_charity_programmes_ceiling')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_charity_programmes')),
        sa.UniqueConstraint('code', name=op.f('uq_charity_programmes_code')),
    )
    op.create_table(
        'charity_enrolments',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('programme_id', sa.Integer(), nullable=False),
        sa.Column('national_id', sa.String(length=10), nullable=False),
        sa.Column('diagnosis_group', sa.String(length=40), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('enrolled_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['programme_id'], ['charity_programmes.id'],
            name=op.f('fk_charity_enrolments_programme_id_charity_programmes'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_charity_enrolments')),
    )
    op.create_index(
        op.f('ix_charity_enrolments_national_id'),
        'charity_enrolments', ['national_id', 'programme_id'],
    )
    op.create_table(
        'ledger_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=80), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('floor_zero', sa.Boolean(), nullable=False),
        sa.Column('debits', sa.BigInteger(), nullable=False),
        sa.Column('credits', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('debits >= 0 AND credits >= 0', name=op.f('ck_ledger_accounts_sides')),
        sa.CheckConstraint(
            'NOT floor_zero OR debits <= credits', name=op.f('ck_ledger_accounts_floor')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
        sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code')),
    )
    op.create_table(
        'donations',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('receipt_number', sa.String(length=30), nullable=False),
        sa.Column('donor', sa.String(length=200), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('earmark_kind', sa.String(length=20), nullable=True),
        sa.Column('earmark_value', sa.String(length=60), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('recorded_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_donations_amount')),
        sa.CheckConstraint(
            '(earmark_kind IS NULL) = (earmark_value IS NULL)',
            name=op.f('ck_donations_earmark_pair'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_donations')),
        sa.UniqueConstraint('receipt_number', name=op.f('uq_donations_receipt_number')),
    )
    op.create_table(
        'ledger_transfers',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('payer_account_id', sa.Integer(), nullable=False),
        sa.Column('payer_ref', sa.String(length=80), nullable=True),
        sa.Column('document_id', sa.Uuid(), nullable=True),
        sa.Column('round_no', sa.Integer(), nullable=True),
        sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['document_id'], ['documents.id'],
            name=op.f('fk_ledger_transfers_document_id_documents'),
        ),
        sa.ForeignKeyConstraint(
            ['payer_account_id'], ['ledger_accounts.id'],
            name=op.f('fk_ledger_transfers_payer_account_id_ledger_accounts'),
        ),
        sa.ForeignKeyConstraint(
            ['reverses_id'], ['ledger_transfers.id'],
            name=op.f('fk_ledger_transfers_reverses_id_ledger_transfers'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transfers')),
        sa.UniqueConstraint('key', name=op.f('uq_ledger_transfers_key')),
        sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_transfers_reverses_id')),
    )
    op.create_index(
        op.f('ix_ledger_transfers_document_id'), 'ledger_transfers', ['document_id']
    )
    op.create_index(op.f('ix_ledger_transfers_payer_ref'), 'ledger_transfers', ['payer_ref'])
    op.create_table(
        'ledger_entries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=True),
        sa.Column('debit', sa.BigInteger(), nullable=False),
        sa.Column('credit', sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            'debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)',
            name=op.f('ck_ledger_entries_one_side'),
        ),
        sa.ForeignKeyConstraint(
            ['account_id'], ['ledger_accounts.id'],
            name=op.f('fk_ledger_entries_account_id_ledger_accounts'),
        ),
        sa.ForeignKeyConstraint(
            ['transfer_id'], ['ledger_transfers.id'],
            name=op.f('fk_ledger_entries_transfer_id_ledger_transfers'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    )
    op.create_index(op.f('ix_ledger_entries_account_id'), 'ledger_entries', ['account_id'])
    op.create_index(op.f('ix_ledger_entries_transfer_id'), 'ledger_entries', ['transfer_id'])
    op.add_column(
        'payment_orders',
        sa.Column('fund_amount', sa.BigInteger(), server_default='0', nullable=False),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(BALANCED)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(UNDO)
    with op.batch_alter_table('payment_orders') as batch:
        batch.drop_column('fund_amount')
    op.drop_index(op.f('ix_ledger_entries_transfer_id'), table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_account_id'), table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index(op.f('ix_ledger_transfers_payer_ref'), table_name='ledger_transfers')
    op.drop_index(op.f('ix_ledger_transfers_document_id'), table_name='ledger_transfers')
    op.drop_table('ledger_transfers')
    op.drop_table('donations')
    op.drop_table('ledger_accounts')
    op.drop_index(op.f('ix_charity_enrolments_national_id'), table_name='charity_enrolments')
    op.drop_table('charity_enrolments')
    op.drop_table('charity_programmes')
    op.drop_index(
        op.f('ix_supplementary_policies_national_id'), table_name='supplementary_policies'
    )
    op.drop_table('supplementary_policies')
