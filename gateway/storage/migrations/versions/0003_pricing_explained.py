"""pricing explained: package prices, grade K, line figures, review reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:25:11.452690
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('package_contents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('package_code', sa.String(length=20), nullable=False),
    sa.Column('item_code', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['tariff_versions.id'], name=op.f('fk_package_contents_version_id_tariff_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_contents')),
    sa.UniqueConstraint('version_id', 'package_code', 'item_code', name=op.f('uq_package_contents_version_id'))
    )
    op.create_table('package_prices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("sector IN ('charity', 'governmental', 'private', 'public_non_governmental')", name=op.f('ck_package_prices_sector')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_package_prices_price')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_package_prices_period')),
    sa.ForeignKeyConstraint(['version_id'], ['tariff_versions.id'], name=op.f('fk_package_prices_version_id_tariff_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_prices'))
    )
    with op.batch_alter_table('package_prices', schema=None) as batch_op:
        batch_op.create_index('ix_package_prices_version', ['version_id'], unique=False)

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('pricing_notes', sa.JSON(), nullable=True))

    with op.batch_alter_table('k_coefficients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grade', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_k_coefficients_grade'),
            "grade IS NULL OR grade IN ('general', 'specialist', 'subspecialist')",
        )

    with op.batch_alter_table('line_pricings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('terms', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('allowed_quantity', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('copay_rate', sa.Numeric(precision=6, scale=4), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('line_pricings', schema=None) as batch_op:
        batch_op.drop_column('copay_rate')
        batch_op.drop_column('allowed_quantity')
        batch_op.drop_column('terms')
        batch_op.drop_column('basis')

    with op.batch_alter_table('k_coefficients', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_k_coefficients_grade'), type_='check')
        batch_op.drop_column('grade')

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('pricing_notes')
        batch_op.drop_column('review_reason')

    with op.batch_alter_table('package_prices', schema=None) as batch_op:
        batch_op.drop_index('ix_package_prices_version')

    op.drop_table('package_prices')
    op.drop_table('package_contents')
