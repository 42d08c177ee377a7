"""referrals: the family-physician referral programme

Family physicians and their patient lists (registry imports), the rollout table (which
provinces require a referral, from when, at which levels, in which centres), referrals
issued by level-1 centres and the uses of their visits; on documents the specialist's
specialty and the selfReferred and emergency flags; on priced lines why their co-payment
differs from the usual rate. Visits used never exceed visits: a check constraint, and a
document uses at most one visit: a unique key.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-02 09:30:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'family_physicians',
        sa.Column('medical_council_number', sa.String(length=12), nullable=False),
        sa.Column('full_name', sa.String(length=200), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['centre_id'], ['centres.id'], name=op.f('fk_family_physicians_centre_id_centres')
        ),
        sa.PrimaryKeyConstraint('medical_council_number', name=op.f('pk_family_physicians')),
    )
    op.create_table(
        'patient_list_entries',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('national_id', sa.String(length=10), nullable=False),
        sa.Column('physician_number', sa.String(length=12), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.CheckConstraint(
            'valid_to IS NULL OR valid_to >= valid_from',
            name=op.f('ck_patient_list_entries_period'),
        ),
        sa.ForeignKeyConstraint(
            ['physician_number'],
            ['family_physicians.medical_council_number'],
            name=op.f('fk_patient_list_entries_physician_number_family_physicians'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_list_entries')),
    )
    op.create_index(
        'ix_patient_list_entries_national_id',
        'patient_list_entries',
        ['national_id', 'valid_from'],
    )
    op.create_table(
        'referral_rollout',
        sa.Column('province', sa.String(length=60), nullable=False),
        sa.Column('required_from', sa.Date(), nullable=False),
        sa.Column('levels', sa.String(length=10), nullable=False),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.CheckConstraint("scope IN ('all', 'owned')", name=op.f('ck_referral_rollout_scope')),
        sa.PrimaryKeyConstraint('province', name=op.f('pk_referral_rollout')),
    )
    op.create_table(
        'referrals',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('issuing_centre_id', sa.Integer(), nullable=False),
        sa.Column('physician_number', sa.String(length=12), nullable=False),
        sa.Column('patient_national_id', sa.String(length=10), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('specialty', sa.String(length=40), nullable=True),
        sa.Column('reason_icd10', sa.String(length=8), nullable=False),
        sa.Column('reason_text', sa.String(length=500), nullable=True),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.Column('visits_used', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('source_document_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('feedback_centre_id', sa.Integer(), nullable=True),
        sa.Column('feedback_diagnosis', sa.String(length=8), nullable=True),
        sa.Column('feedback_findings', sa.Text(), nullable=True),
        sa.Column('feedback_plan', sa.Text(), nullable=True),
        sa.Column('feedback_back_to_level1', sa.Boolean(), nullable=True),
        sa.Column('feedback_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('level IN (2, 3)', name=op.f('ck_referrals_level')),
        sa.CheckConstraint(
            'visits >= 1 AND visits_used >= 0 AND visits_used <= visits',
            name=op.f('ck_referrals_visits'),
        ),
        sa.CheckConstraint('valid_until >= issued_on', name=op.f('ck_referrals_validity')),
        sa.CheckConstraint(
            "source IN ('api', 'document', 'fhir')", name=op.f('ck_referrals_source')
        ),
        sa.ForeignKeyConstraint(
            ['issuing_centre_id'], ['centres.id'],
            name=op.f('fk_referrals_issuing_centre_id_centres'),
        ),
        sa.ForeignKeyConstraint(
            ['feedback_centre_id'], ['centres.id'],
            name=op.f('fk_referrals_feedback_centre_id_centres'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
        sa.UniqueConstraint('code', name=op.f('uq_referrals_code')),
    )
    op.create_index('ix_referrals_issuer', 'referrals', ['issuing_centre_id', 'issued_on'])
    op.create_index('ix_referrals_source_document', 'referrals', ['source_document_id'])
    op.create_table(
        'referral_uses',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('referral_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('document_id', sa.Uuid(), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=False),
        sa.Column('service_date', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['referral_id'], ['referrals.id'], name=op.f('fk_referral_uses_referral_id_referrals')
        ),
        sa.ForeignKeyConstraint(
            ['centre_id'], ['centres.id'], name=op.f('fk_referral_uses_centre_id_centres')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_uses')),
    )
    op.create_index('ix_referral_uses_referral', 'referral_uses', ['referral_id'])
    op.create_index('uq_referral_uses_document', 'referral_uses', ['document_id'], unique=True)
    # Constant defaults: PostgreSQL records them without rewriting the table.
    op.add_column('documents', sa.Column('physician_specialty', sa.String(40), nullable=True))
    op.add_column(
        'documents', sa.Column('self_referred', sa.Boolean(), server_default='0', nullable=False)
    )
    op.add_column(
        'documents', sa.Column('emergency', sa.Boolean(), server_default='0', nullable=False)
    )
    op.add_column('line_pricings', sa.Column('copay_reason', sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('line_pricings', 'copay_reason')
    for column in ('emergency', 'self_referred', 'physician_specialty'):
        op.drop_column('documents', column)
    op.drop_index('uq_referral_uses_document', table_name='referral_uses')
    op.drop_index('ix_referral_uses_referral', table_name='referral_uses')
    op.drop_table('referral_uses')
    op.drop_index('ix_referrals_source_document', table_name='referrals')
    op.drop_index('ix_referrals_issuer', table_name='referrals')
    op.drop_table('referrals')
    op.drop_table('referral_rollout')
    op.drop_index('ix_patient_list_entries_national_id', table_name='patient_list_entries')
    op.drop_table('patient_list_entries')
    op.drop_table('family_physicians')
