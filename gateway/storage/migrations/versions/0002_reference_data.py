"""reference data: insured coverages, centre contracts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:00:38.914372
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('insured_coverages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('national_id', sa.String(length=10), nullable=False),
    sa.Column('insurance_number', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_insured_coverages_period')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insured_coverages'))
    )
    with op.batch_alter_table('insured_coverages', schema=None) as batch_op:
        batch_op.create_index('ix_insured_coverages_national_id', ['national_id', 'valid_from'], unique=False)

    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('contract_to', sa.Date(), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.drop_column('contract_to')
        batch_op.drop_column('contract_from')

    with op.batch_alter_table('insured_coverages', schema=None) as batch_op:
        batch_op.drop_index('ix_insured_coverages_national_id')

    op.drop_table('insured_coverages')

