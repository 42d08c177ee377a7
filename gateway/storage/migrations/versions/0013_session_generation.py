"""staff_users.session_generation: logging out raises it, and every workspace session
cookie issued under an earlier generation is refused (a copied or forgotten cookie no
longer outlives the logout until its expiry)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 21:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL records it without rewriting the table. Generation 0
    # keeps the sessions open at the upgrade valid.
    op.add_column(
        'staff_users',
        sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False),
    )


def downgrade() -> None:
    op.drop_column('staff_users', 'session_generation')
