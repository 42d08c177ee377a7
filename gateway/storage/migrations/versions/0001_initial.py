"""initial schema: centres, tokens, submissions, documents, pricing, outbox, tariff

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 07:09:32.733177
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('centres',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('province', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('contracted', 'owned')", name=op.f('ck_centres_kind')),
    sa.CheckConstraint("sector IN ('charity', 'governmental', 'private', 'public_non_governmental')", name=op.f('ck_centres_sector')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_centres')),
    sa.UniqueConstraint('code', name=op.f('uq_centres_code'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['published_at', 'id'], unique=False)

    op.create_table('tariff_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff_versions'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role <> 'centre' OR centre_id IS NOT NULL", name=op.f('ck_api_tokens_centre_token_has_centre')),
    sa.CheckConstraint("role IN ('admin', 'auditor', 'centre')", name=op.f('ck_api_tokens_role')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_api_tokens_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('k_coefficients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('component', sa.String(length=20), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("component IN ('professional', 'technical', 'anesthesia')", name=op.f('ck_k_coefficients_component')),
    sa.CheckConstraint("sector IN ('charity', 'governmental', 'private', 'public_non_governmental')", name=op.f('ck_k_coefficients_sector')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_k_coefficients_period')),
    sa.CheckConstraint('value > 0', name=op.f('ck_k_coefficients_positive')),
    sa.ForeignKeyConstraint(['version_id'], ['tariff_versions.id'], name=op.f('fk_k_coefficients_version_id_tariff_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_k_coefficients'))
    )
    with op.batch_alter_table('k_coefficients', schema=None) as batch_op:
        batch_op.create_index('ix_k_coefficients_version', ['version_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('submission_number', sa.String(length=40), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document_count', sa.Integer(), nullable=False),
    sa.Column('accepted_count', sa.Integer(), nullable=False),
    sa.Column('rejected_count', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.CheckConstraint("format IN ('xml', 'json', 'fhir')", name=op.f('ck_submissions_format')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_submissions_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_centre_received', ['centre_id', 'received_at'], unique=False)
        batch_op.create_index('uq_submissions_centre_idempotency_key', ['centre_id', 'idempotency_key'], unique=True)

    op.create_table('tariff_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('professional_rvu', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('technical_rvu', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('anesthesia_rvu', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=True),
    sa.Column('covered', sa.Boolean(), nullable=False),
    sa.Column('max_quantity', sa.Integer(), nullable=True),
    sa.Column('referral_required', sa.Boolean(), nullable=False),
    sa.Column('setting', sa.String(length=12), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("kind IN ('service', 'drug', 'package')", name=op.f('ck_tariff_items_kind')),
    sa.CheckConstraint('professional_rvu >= 0 AND technical_rvu >= 0 AND anesthesia_rvu >= 0', name=op.f('ck_tariff_items_units')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_tariff_items_period')),
    sa.ForeignKeyConstraint(['version_id'], ['tariff_versions.id'], name=op.f('fk_tariff_items_version_id_tariff_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff_items'))
    )
    with op.batch_alter_table('tariff_items', schema=None) as batch_op:
        batch_op.create_index('ix_tariff_items_version_code', ['version_id', 'code'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source_path', sa.String(length=200), nullable=False),
    sa.Column('patient_national_id', sa.String(length=10), nullable=False),
    sa.Column('insurance_number', sa.String(length=16), nullable=False),
    sa.Column('physician_number', sa.String(length=12), nullable=False),
    sa.Column('physician_grade', sa.String(length=20), nullable=False),
    sa.Column('referral_code', sa.String(length=16), nullable=True),
    sa.Column('tracking_code', sa.String(length=20), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=True),
    sa.Column('package_code', sa.String(length=20), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('admission_date', sa.Date(), nullable=True),
    sa.Column('discharge_date', sa.Date(), nullable=True),
    sa.Column('total_amount', sa.BigInteger(), nullable=False),
    sa.Column('requested_amount', sa.BigInteger(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('tariff_version_id', sa.Integer(), nullable=True),
    sa.Column('eligible_amount', sa.BigInteger(), nullable=True),
    sa.Column('deduction_amount', sa.BigInteger(), nullable=True),
    sa.Column('copayment_amount', sa.BigInteger(), nullable=True),
    sa.Column('insurer_amount', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('priced_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('inpatientBill', 'outpatientVisit', 'paraclinical', 'prescription', 'surgeryPackage')", name=op.f('ck_documents_kind')),
    sa.CheckConstraint("status IN ('ACCEPTED', 'APPEALED', 'APPROVED', 'DENIED', 'PAID', 'PAYMENT_ORDERED', 'PRICED', 'RECEIVED', 'REJECTED', 'UNDER_REVIEW')", name=op.f('ck_documents_status')),
    sa.CheckConstraint('requested_amount >= 0 AND total_amount >= 0', name=op.f('ck_documents_amounts')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_documents_centre_id_centres')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_documents_submission_id_submissions')),
    sa.ForeignKeyConstraint(['tariff_version_id'], ['tariff_versions.id'], name=op.f('fk_documents_tariff_version_id_tariff_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_centre_status', ['centre_id', 'status'], unique=False)
        batch_op.create_index('ix_documents_status_updated', ['status', 'updated_at'], unique=False)
        batch_op.create_index('ix_documents_submission', ['submission_id', 'ordinal'], unique=False)
        batch_op.create_index('uq_documents_centre_number_live', ['centre_id', 'external_id'], unique=True, postgresql_where=sa.text("status <> 'REJECTED'"), sqlite_where=sa.text("status <> 'REJECTED'"))

    op.create_table('raw_payloads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_raw_payloads_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_payloads')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_raw_payloads_submission_id'))
    )
    op.create_table('document_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('code_type', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity > 0 AND unit_price >= 0 AND amount >= 0', name=op.f('ck_document_lines_amounts')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_lines_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_lines')),
    sa.UniqueConstraint('document_id', 'line_no', name=op.f('uq_document_lines_document_id'))
    )
    op.create_table('status_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(COALESCE(from_status, '') || '>' || to_status) IN ('>RECEIVED', 'ACCEPTED>PRICED', 'APPEALED>UNDER_REVIEW', 'APPROVED>APPEALED', 'APPROVED>PAYMENT_ORDERED', 'DENIED>APPEALED', 'PAYMENT_ORDERED>PAID', 'PRICED>APPROVED', 'PRICED>UNDER_REVIEW', 'RECEIVED>ACCEPTED', 'RECEIVED>REJECTED', 'UNDER_REVIEW>APPROVED', 'UNDER_REVIEW>DENIED')", name=op.f('ck_status_events_allowed_move')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_status_events_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_events'))
    )
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.create_index('ix_status_events_document', ['document_id', 'id'], unique=False)

    op.create_table('line_deductions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_line_deductions_positive')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_line_deductions_document_id_documents')),
    sa.ForeignKeyConstraint(['line_id'], ['document_lines.id'], name=op.f('fk_line_deductions_line_id_document_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_deductions'))
    )
    with op.batch_alter_table('line_deductions', schema=None) as batch_op:
        batch_op.create_index('ix_line_deductions_document', ['document_id'], unique=False)
        batch_op.create_index('ix_line_deductions_reason', ['reason'], unique=False)

    op.create_table('line_pricings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('tariff_version_id', sa.Integer(), nullable=False),
    sa.Column('requested_amount', sa.BigInteger(), nullable=False),
    sa.Column('tariff_unit_price', sa.BigInteger(), nullable=True),
    sa.Column('eligible_amount', sa.BigInteger(), nullable=False),
    sa.Column('deduction_amount', sa.BigInteger(), nullable=False),
    sa.Column('copayment_amount', sa.BigInteger(), nullable=False),
    sa.Column('insurer_amount', sa.BigInteger(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.CheckConstraint('eligible_amount = copayment_amount + insurer_amount', name=op.f('ck_line_pricings_eligible_balances')),
    sa.CheckConstraint('eligible_amount >= 0 AND copayment_amount >= 0 AND insurer_amount >= 0', name=op.f('ck_line_pricings_amounts')),
    sa.CheckConstraint('requested_amount = eligible_amount + deduction_amount', name=op.f('ck_line_pricings_requested_balances')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_line_pricings_document_id_documents')),
    sa.ForeignKeyConstraint(['line_id'], ['document_lines.id'], name=op.f('fk_line_pricings_line_id_document_lines')),
    sa.ForeignKeyConstraint(['tariff_version_id'], ['tariff_versions.id'], name=op.f('fk_line_pricings_tariff_version_id_tariff_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_pricings')),
    sa.UniqueConstraint('line_id', name=op.f('uq_line_pricings_line_id'))
    )
    with op.batch_alter_table('line_pricings', schema=None) as batch_op:
        batch_op.create_index('ix_line_pricings_document', ['document_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('line_pricings', schema=None) as batch_op:
        batch_op.drop_index('ix_line_pricings_document')

    op.drop_table('line_pricings')
    with op.batch_alter_table('line_deductions', schema=None) as batch_op:
        batch_op.drop_index('ix_line_deductions_reason')
        batch_op.drop_index('ix_line_deductions_document')

    op.drop_table('line_deductions')
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_index('ix_status_events_document')

    op.drop_table('status_events')
    op.drop_table('document_lines')
    op.drop_table('raw_payloads')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('uq_documents_centre_number_live', postgresql_where=sa.text("status <> 'REJECTED'"), sqlite_where=sa.text("status <> 'REJECTED'"))
        batch_op.drop_index('ix_documents_submission')
        batch_op.drop_index('ix_documents_status_updated')
        batch_op.drop_index('ix_documents_centre_status')

    op.drop_table('documents')
    with op.batch_alter_table('tariff_items', schema=None) as batch_op:
        batch_op.drop_index('ix_tariff_items_version_code')

    op.drop_table('tariff_items')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('uq_submissions_centre_idempotency_key')
        batch_op.drop_index('ix_submissions_centre_received')

    op.drop_table('submissions')
    with op.batch_alter_table('k_coefficients', schema=None) as batch_op:
        batch_op.drop_index('ix_k_coefficients_version')

    op.drop_table('k_coefficients')
    op.drop_table('api_tokens')
    op.drop_table('tariff_versions')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')

    op.drop_table('outbox')
    op.drop_table('centres')

