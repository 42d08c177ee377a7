"""login_throttles: failed workspace logins counted per account and per client address,
and the locks they lead to, shared by every API process

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=250), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.Float(), nullable=False),
        sa.Column('locked_until', sa.Float(), nullable=True),
        sa.Column('locks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles')),
    )


def downgrade() -> None:
    op.drop_table('login_throttles')
