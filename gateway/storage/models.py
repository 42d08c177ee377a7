"""Tables. Rules that must always hold are database constraints too, not only code."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway.domain.centres import CentreKind, Role, Sector
from gateway.domain.documents import DocumentKind
from gateway.domain.lifecycle import ALLOWED_PAIRS, NOT_LIVE, DocumentStatus

# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids are plain integers there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_day(at: datetime) -> date:
    """The UTC day of a stored time (SQLite gives it back naive, in UTC)."""
    return at.astimezone(UTC).date() if at.tzinfo is not None else at.date()


def _one_of(column: str, values: Any) -> str:
    quoted = ", ".join(f"'{v}'" for v in sorted(str(v) for v in values))
    return f"{column} IN ({quoted})"


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, for both databases."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


# A document that holds its number: neither rejected nor voided (lifecycle.NOT_LIVE).
LIVE = "status NOT IN (" + ", ".join(f"'{s}'" for s in sorted(NOT_LIVE)) + ")"

# The order searches list documents in (repository.search_documents).
SEARCH_ORDER = (text("service_date DESC"), text("created_at DESC"), "id")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Centre(Base):
    __tablename__ = "centres"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CentreKind), name="kind"),
        CheckConstraint(_one_of("sector", Sector), name="sector"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    sector: Mapped[str] = mapped_column(String(40))
    province: Mapped[str | None] = mapped_column(String(60))
    contract_from: Mapped[date | None] = mapped_column(Date)
    contract_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InsuredCoverage(Base):
    """One period during which a person is covered; the register of insured persons."""

    __tablename__ = "insured_coverages"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_insured_coverages_national_id", "national_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(10))
    insurance_number: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class ApiToken(Base):
    """A bearer token, stored only as its SHA-256."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(_one_of("role", Role), name="role"),
        CheckConstraint(
            "role <> 'centre' OR centre_id IS NOT NULL", name="centre_token_has_centre"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    centre: Mapped[Centre | None] = relationship(lazy="raise")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint(
            "format IN ('xml', 'json', 'fhir')", name="format"
        ),  # fhir: via the FHIR door
        Index("ix_submissions_centre_received", "centre_id", "received_at"),
        Index("uq_submissions_centre_idempotency_key", "centre_id", "idempotency_key", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    format: Mapped[str] = mapped_column(String(10))
    submission_number: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    document_count: Mapped[int] = mapped_column(Integer)
    accepted_count: Mapped[int] = mapped_column(Integer)
    rejected_count: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))

    documents: Mapped[list[Document]] = relationship(
        lazy="raise", back_populates="submission", order_by="Document.ordinal"
    )


class RawPayload(Base):
    """The body exactly as received, so nothing sent is ever lost or altered."""

    __tablename__ = "raw_payloads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id"), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(_one_of("status", DocumentStatus), name="status"),
        CheckConstraint(_one_of("kind", DocumentKind), name="kind"),
        CheckConstraint("requested_amount >= 0 AND total_amount >= 0", name="amounts"),
        # A centre's document number is accepted once (per identifier system, for FHIR
        # Claims); rejected attempts and voided documents do not count.
        Index(
            "uq_documents_centre_number_live",
            "centre_id",
            "external_id",
            "identifier_system",
            unique=True,
            **_where(LIVE),
        ),
        Index("ix_documents_centre_status", "centre_id", "status"),
        # Searches list newest service first: each has an index in that very order.
        Index("ix_documents_status_service", "status", *SEARCH_ORDER),
        Index("ix_documents_centre_service", "centre_id", *SEARCH_ORDER),
        Index("ix_documents_service", *SEARCH_ORDER),
        Index("ix_documents_submission", "submission_id", "ordinal"),
        # The sweeper's stuck documents: only those awaiting pricing are in it.
        Index("ix_documents_awaiting_pricing", "updated_at", **_where("status = 'ACCEPTED'")),
        # A batch's progress: its documents still awaiting pricing.
        Index(
            "ix_documents_awaiting_by_submission", "submission_id", **_where("status = 'ACCEPTED'")
        ),
        Index(
            "ix_documents_payment_order",
            "payment_order_id",
            **_where("payment_order_id IS NOT NULL"),
        ),
        # Pricing looks up a batch's patients' paid services by patient.
        Index("ix_documents_patient", "patient_national_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id"))
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(40))
    # The system of the FHIR identifier the number came from; "" for the other doors.
    identifier_system: Mapped[str] = mapped_column(String(255), default="", server_default="")
    status: Mapped[str] = mapped_column(String(20))
    source_path: Mapped[str] = mapped_column(String(200))
    patient_national_id: Mapped[str] = mapped_column(String(10))
    insurance_number: Mapped[str] = mapped_column(String(16))
    physician_number: Mapped[str] = mapped_column(String(12))
    physician_grade: Mapped[str] = mapped_column(String(20))
    referral_code: Mapped[str | None] = mapped_column(String(16))
    tracking_code: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(20))
    package_code: Mapped[str | None] = mapped_column(String(20))
    # "claim" (a bill), or "preauthorization" / "predetermination": a FHIR Claim asking
    # what would be paid, priced as an estimate and never settled (domain.documents.Purpose).
    purpose: Mapped[str] = mapped_column(String(20), default="claim", server_default="claim")
    # The referral programme (docs/referrals.md): the specialist's specialty, a visit the
    # patient came to without a referral, an emergency (which never needs one).
    physician_specialty: Mapped[str | None] = mapped_column(String(40))
    self_referred: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    emergency: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    service_date: Mapped[date] = mapped_column(Date)
    admission_date: Mapped[date | None] = mapped_column(Date)
    discharge_date: Mapped[date | None] = mapped_column(Date)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    requested_amount: Mapped[int] = mapped_column(BigInteger)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tariff_version_id: Mapped[int | None] = mapped_column(ForeignKey("tariff_versions.id"))
    eligible_amount: Mapped[int | None] = mapped_column(BigInteger)
    deduction_amount: Mapped[int | None] = mapped_column(BigInteger)
    copayment_amount: Mapped[int | None] = mapped_column(BigInteger)
    insurer_amount: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    priced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why pricing sent the document to review or approved it (criterion: reason).
    review_reason: Mapped[str | None] = mapped_column(Text)
    pricing_notes: Mapped[list[str] | None] = mapped_column(JSON)
    # When it was last approved or denied (the appeal window runs from here).
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_order_id: Mapped[int | None] = mapped_column(ForeignKey("payment_orders.id"))

    submission: Mapped[Submission] = relationship(lazy="raise", back_populates="documents")
    centre: Mapped[Centre] = relationship(lazy="raise")
    lines: Mapped[list[DocumentLine]] = relationship(lazy="raise", order_by="DocumentLine.line_no")
    events: Mapped[list[StatusEvent]] = relationship(lazy="raise", order_by="StatusEvent.id")


class DocumentLine(Base):
    __tablename__ = "document_lines"
    __table_args__ = (
        UniqueConstraint("document_id", "line_no"),
        CheckConstraint("quantity > 0 AND unit_price >= 0 AND amount >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    code_type: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(String(200))
    service_date: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)


class LinePricing(Base):
    """The priced result of one line; exactly one per line, whatever the redeliveries."""

    __tablename__ = "line_pricings"
    __table_args__ = (
        CheckConstraint(
            "eligible_amount >= 0 AND copayment_amount >= 0 AND insurer_amount >= 0",
            name="amounts",
        ),
        CheckConstraint(
            "requested_amount = eligible_amount + deduction_amount", name="requested_balances"
        ),
        CheckConstraint(
            "eligible_amount = copayment_amount + insurer_amount", name="eligible_balances"
        ),
        Index("ix_line_pricings_document", "document_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("document_lines.id"), unique=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    tariff_version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    requested_amount: Mapped[int] = mapped_column(BigInteger)
    tariff_unit_price: Mapped[int | None] = mapped_column(BigInteger)
    eligible_amount: Mapped[int] = mapped_column(BigInteger)
    deduction_amount: Mapped[int] = mapped_column(BigInteger)
    copayment_amount: Mapped[int] = mapped_column(BigInteger)
    insurer_amount: Mapped[int] = mapped_column(BigInteger)
    # The figures behind the price, so it can be explained and recomputed years later.
    basis: Mapped[str | None] = mapped_column(String(10))  # rvu | drug | package
    terms: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # component, units, k
    allowed_quantity: Mapped[int] = mapped_column(Integer, server_default="0")
    copay_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4), server_default="0")
    # Why the co-payment is other than the centre's usual rate (referral.self-referred).
    copay_reason: Mapped[str | None] = mapped_column(String(40))
    explanation: Mapped[str] = mapped_column(Text)


class LineDeduction(Base):
    __tablename__ = "line_deductions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        Index("ix_line_deductions_document", "document_id"),
        Index("ix_line_deductions_line", "line_id"),
        # Searches by reason read only this index (documents that have such a deduction).
        Index("ix_line_deductions_reason_document", "reason", "document_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("document_lines.id"))
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    reason: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)


_PAIRS = ", ".join(f"'{a}>{b}'" for a, b in sorted(ALLOWED_PAIRS))


class StatusEvent(Base):
    """Append-only history; the check constraint admits only moves the lifecycle allows."""

    __tablename__ = "status_events"
    __table_args__ = (
        CheckConstraint(
            f"(COALESCE(from_status, '') || '>' || to_status) IN ({_PAIRS})", name="allowed_move"
        ),
        Index("ix_status_events_document", "document_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessage(Base):
    """A task to send, written in the same transaction as the data it is about."""

    __tablename__ = "outbox"
    # The relay reads only unpublished messages: a few, however many were ever sent.
    __table_args__ = (Index("ix_outbox_unpublished", "id", **_where("published_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class TariffVersion(Base):
    __tablename__ = "tariff_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TariffItemRow(Base):
    __tablename__ = "tariff_items"
    __table_args__ = (
        CheckConstraint("kind IN ('service', 'drug', 'package')", name="kind"),
        CheckConstraint(
            "professional_rvu >= 0 AND technical_rvu >= 0 AND anesthesia_rvu >= 0", name="units"
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_tariff_items_version_code", "version_id", "code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    code: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    professional_rvu: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    technical_rvu: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    anesthesia_rvu: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    unit_price: Mapped[int | None] = mapped_column(BigInteger)
    covered: Mapped[bool]
    max_quantity: Mapped[int | None] = mapped_column(Integer)
    referral_required: Mapped[bool]
    setting: Mapped[str] = mapped_column(String(12))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class KCoefficientRow(Base):
    __tablename__ = "k_coefficients"
    __table_args__ = (
        CheckConstraint(_one_of("sector", Sector), name="sector"),
        CheckConstraint(
            "component IN ('professional', 'technical', 'anesthesia')", name="component"
        ),
        CheckConstraint("value > 0", name="positive"),
        CheckConstraint(
            "grade IS NULL OR grade IN ('general', 'specialist', 'subspecialist')", name="grade"
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_k_coefficients_version", "version_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    sector: Mapped[str] = mapped_column(String(40))
    component: Mapped[str] = mapped_column(String(20))
    grade: Mapped[str | None] = mapped_column(String(20))  # None: every physician grade
    value: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class PackagePriceRow(Base):
    __tablename__ = "package_prices"
    __table_args__ = (
        CheckConstraint(_one_of("sector", Sector), name="sector"),
        CheckConstraint("price >= 0", name="price"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_package_prices_version", "version_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    code: Mapped[str] = mapped_column(String(20))
    sector: Mapped[str] = mapped_column(String(40))
    price: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class PackageContentRow(Base):
    __tablename__ = "package_contents"
    __table_args__ = (UniqueConstraint("version_id", "package_code", "item_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    package_code: Mapped[str] = mapped_column(String(20))
    item_code: Mapped[str] = mapped_column(String(20))


class LineReview(Base):
    """An auditor's action on one priced line; the line's figures follow from it by the
    pricing rules (a reduction becomes a deduction with the auditor's reason code)."""

    __tablename__ = "line_reviews"
    __table_args__ = (
        CheckConstraint("action IN ('accept', 'reduce', 'deny')", name="action"),
        Index("ix_line_reviews_document", "document_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("document_lines.id"))
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    quantity: Mapped[int | None] = mapped_column(Integer)
    eligible: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Appeal(Base):
    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_document", "document_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    reason: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[int]] = mapped_column(JSON, default=list)  # line numbers contested
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaymentOrder(Base):
    """One centre's settlement of one month: approved documents gathered and totalled."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        UniqueConstraint("centre_id", "period"),
        CheckConstraint("status IN ('ordered', 'paid')", name="status"),
        CheckConstraint(
            "status <> 'paid' OR (paid_at IS NOT NULL AND payment_reference IS NOT NULL)",
            name="paid_has_reference",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    status: Mapped[str] = mapped_column(String(10), default="ordered")
    documents: Mapped[int] = mapped_column(Integer)
    requested_amount: Mapped[int] = mapped_column(BigInteger)
    eligible_amount: Mapped[int] = mapped_column(BigInteger)
    deduction_amount: Mapped[int] = mapped_column(BigInteger)
    deductions_by_reason: Mapped[dict[str, int]] = mapped_column(JSON)
    copayment_amount: Mapped[int] = mapped_column(BigInteger)
    insurer_amount: Mapped[int] = mapped_column(BigInteger)
    # What the charity fund pays the centre for its patients' shares: its own line.
    fund_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    closed_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_reference: Mapped[str | None] = mapped_column(String(60))

    centre: Mapped[Centre] = relationship(lazy="raise")


class SettlementPeriod(Base):
    """A month closed for settlement; closing it twice is refused by the primary key."""

    __tablename__ = "settlement_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffUser(Base):
    """A person who logs into the web workspace: auditor, finance or admin."""

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('auditor', 'finance', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Raised when the user logs out: every workspace session issued before is refused.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuditEntry(Base):
    """Append-only; each entry carries the SHA-256 of the one before it (see gateway/audit)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("seq"),
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # 1, 2, 3... in chain order, no gaps
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last link, one row; appending locks it, so entries form one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))  # the HMAC key; shown once on creation
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One attempt to deliver one event to one webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_event", "event_id", "attempt"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"))
    event_id: Mapped[str] = mapped_column(String(36))
    document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[bool]
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


BATCH_STATUSES = ("received", "processing", "done", "failed")


class Batch(Base):
    """A large file of documents, spooled to disk and stored a chunk at a time.

    ``documents_read`` counts the documents committed so far, in file order: a run that
    stops resumes after document ``documents_read - 1`` (its ``last_ordinal``). The same
    file (SHA-256 of its decompressed bytes) from the same centre is one batch.
    """

    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("format IN ('xml', 'json')", name="format"),
        CheckConstraint(_one_of("status", BATCH_STATUSES), name="status"),
        CheckConstraint("last_ordinal IS NULL OR last_ordinal = documents_read - 1", name="resume"),
        UniqueConstraint("centre_id", "sha256", name="uq_batches_centre_sha256"),
        Index("ix_batches_centre_received", "centre_id", "received_at"),
        Index("ix_batches_status", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    # The documents are stored under this submission, ordinal = position in the file.
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id"), unique=True)
    format: Mapped[str] = mapped_column(String(10))
    file_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="received")
    documents_read: Mapped[int] = mapped_column(Integer, default=0)
    last_ordinal: Mapped[int | None] = mapped_column(Integer)
    accepted_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BatchRejection(Base):
    """A document of a batch that the schema refused: it has no document row, only this."""

    __tablename__ = "batch_rejections"
    __table_args__ = (UniqueConstraint("batch_id", "ordinal", name="uq_batch_rejections_ordinal"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"))
    ordinal: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str | None] = mapped_column(String(40))
    source_path: Mapped[str] = mapped_column(String(200))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class DeadLetter(Base):
    """A task that failed for good (retries exhausted, or an error no retry can mend);
    operators list and replay them (`gateway dlq`)."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_open", "replayed_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    task_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replayed_by: Mapped[str | None] = mapped_column(String(100))


class LoginThrottle(Base):
    """Failed workspace logins counted for one account (``account:NAME``) or one client
    address (``client:ADDRESS``), and the lock they led to. Kept in the database so that
    every API process sees the same counts; times are seconds since the epoch."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[float] = mapped_column(Float)
    locked_until: Mapped[float | None] = mapped_column(Float)
    # Locks in a row: the next one lasts twice as long; a quiet window sets it back to 0.
    locks: Mapped[int] = mapped_column(Integer, default=0)


class ReviewClaim(Base):
    """An auditor's hold on a document under review; it lapses at ``expires_at``, after
    which the document is free to claim again (the row stays until then replaced)."""

    __tablename__ = "review_claims"
    __table_args__ = (
        CheckConstraint("expires_at > claimed_at", name="lapses"),
        Index("ix_review_claims_holder", "holder_id", "expires_at"),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    holder_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The workspace's queue searches by the start of a document number or of a national ID
# (LIKE 'prefix%'): PostgreSQL uses a btree for that only with the pattern operator class.
Index(
    "ix_documents_number_prefix",
    Document.external_id,
    postgresql_ops={"external_id": "text_pattern_ops"},
)
Index(
    "ix_documents_patient_prefix",
    Document.patient_national_id,
    postgresql_ops={"patient_national_id": "text_pattern_ops"},
)


# -- payers after the basic insurer: supplementary policies, the charity fund, the ledger --


class SupplementaryPolicy(Base):
    """A person's supplementary insurance policy (the registry's supplementary.csv): it
    pays shares of the co-payment and of uncovered items, within a yearly ceiling."""

    __tablename__ = "supplementary_policies"
    __table_args__ = (
        UniqueConstraint("insurer_code", "policy_number", "valid_from"),
        CheckConstraint("copay_share >= 0 AND copay_share <= 1", name="copay_share"),
        CheckConstraint("uncovered_share >= 0 AND uncovered_share <= 1", name="uncovered_share"),
        CheckConstraint("annual_ceiling IS NULL OR annual_ceiling >= 0", name="ceiling"),
        Index(None, "national_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(10))
    insurer_code: Mapped[str] = mapped_column(String(20))
    insurer_name: Mapped[str] = mapped_column(String(200))
    policy_number: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer)  # policy order: 1 pays first
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    copay_share: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    uncovered_share: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    annual_ceiling: Mapped[int | None] = mapped_column(BigInteger)


class CharityProgramme(Base):
    """A fund for hard-to-treat patients: national (no province) or one province's."""

    __tablename__ = "charity_programmes"
    __table_args__ = (CheckConstraint("patient_annual_ceiling >= 0", name="ceiling"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(60))
    diagnosis_groups: Mapped[list[str]] = mapped_column(JSON)
    patient_annual_ceiling: Mapped[int] = mapped_column(BigInteger)
    centres: Mapped[list[str]] = mapped_column(JSON)  # empty: every centre of its province
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CharityEnrolment(Base):
    __tablename__ = "charity_enrolments"
    __table_args__ = (Index(None, "national_id", "programme_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("charity_programmes.id"))
    national_id: Mapped[str] = mapped_column(String(10))
    diagnosis_group: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    enrolled_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerAccount(Base):
    """An account of the payers' ledger (codes in gateway/domain/ledger.py). Its balance
    row is kept in the same transaction as each entry; ``floor_zero`` accounts (each
    donation) may never give more than they received."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("debits >= 0 AND credits >= 0", name="sides"),
        CheckConstraint("NOT floor_zero OR debits <= credits", name="floor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    floor_zero: Mapped[bool] = mapped_column(default=False)
    debits: Mapped[int] = mapped_column(BigInteger, default=0)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Donation(Base):
    """A gift to the charity fund, receipted; its money is the ledger account
    ``donation:<id>``."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("(earmark_kind IS NULL) = (earmark_value IS NULL)", name="earmark_pair"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(30), unique=True)
    donor: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(Date)
    earmark_kind: Mapped[str | None] = mapped_column(String(20))
    earmark_value: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerTransfer(Base):
    """One balanced movement; never changed. A split has one per document, round and
    payer (``key``); a reversal names the transfer it undoes (once)."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (Index(None, "document_id"), Index(None, "payer_ref"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    payer_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    # Which policy (insurer/number) or programme (its code) pays: ceilings count by it.
    payer_ref: Mapped[str | None] = mapped_column(String(80))
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id"))
    round_no: Mapped[int | None] = mapped_column(Integer)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerEntry(Base):
    """One posting: a positive debit or a positive credit to one account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)", name="one_side"
        ),
        Index(None, "account_id"),
        Index(None, "transfer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    line_no: Mapped[int | None] = mapped_column(Integer)
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)


# Content types an attachment may have: checked on the bytes, never taken from the sender.
ATTACHMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")


class InformationRequest(Base):
    """An auditor's question to a document's centre; the document waits in INFO_REQUESTED
    until the centre answers (``answered_at``) or an auditor withdraws it (``withdrawn_at``).
    ``overdue_at`` is when the sweeper found the deadline ``due_at`` passed unanswered and
    told of it (once)."""

    __tablename__ = "information_requests"
    __table_args__ = (
        Index("ix_information_requests_document", "document_id", "requested_at"),
        # Open requests by deadline: the sweeper's overdue ones and the signals' oldest.
        Index(
            "ix_information_requests_open",
            "due_at",
            **_where("answered_at IS NULL AND withdrawn_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    question: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[int]] = mapped_column(JSON)
    attachment_kinds: Mapped[list[str]] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InformationAnswer(Base):
    """A centre's answer to an information request: text, and attachments by reference."""

    __tablename__ = "information_answers"
    __table_args__ = (Index("ix_information_answers_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("information_requests.id"))
    text: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(100))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Attachment(Base):
    """A file's bytes, stored once by their SHA-256 however often they are sent."""

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint(_one_of("content_type", ATTACHMENT_TYPES), name="content_type"),
        CheckConstraint("size > 0", name="size"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnswerAttachment(Base):
    """An attachment as one answer sent it: its place in the answer and the sender's name."""

    __tablename__ = "information_answer_attachments"
    __table_args__ = (Index("ix_information_answer_attachments_sha256", "sha256"),)

    answer_id: Mapped[int] = mapped_column(ForeignKey("information_answers.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("attachments.sha256"))
    filename: Mapped[str] = mapped_column(String(200))


class FamilyPhysician(Base):
    """A family physician of the referral programme and the level-1 centre they work at."""

    __tablename__ = "family_physicians"

    medical_council_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))


class PatientListEntry(Base):
    """A period during which an insured person is on a family physician's list."""

    __tablename__ = "patient_list_entries"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_patient_list_entries_national_id", "national_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(10))
    physician_number: Mapped[str] = mapped_column(
        ForeignKey("family_physicians.medical_council_number")
    )
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class ReferralRolloutRow(Base):
    """The programme's rollout: from when a province requires a referral, at which levels
    (space-separated, "2 3"), in owned centres only or in contracted ones too."""

    __tablename__ = "referral_rollout"
    __table_args__ = (CheckConstraint("scope IN ('all', 'owned')", name="scope"),)

    province: Mapped[str] = mapped_column(String(60), primary_key=True)
    required_from: Mapped[date] = mapped_column(Date)
    levels: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(10))


class Referral(Base):
    """A referral issued by a level-1 centre; its visits are used by specialists' documents
    (never more than it covers: a database constraint too), and it carries the feedback."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint("level IN (2, 3)", name="level"),
        CheckConstraint(
            "visits >= 1 AND visits_used >= 0 AND visits_used <= visits", name="visits"
        ),
        CheckConstraint("valid_until >= issued_on", name="validity"),
        CheckConstraint("source IN ('api', 'document', 'fhir')", name="source"),
        Index("ix_referrals_issuer", "issuing_centre_id", "issued_on"),
        Index("ix_referrals_source_document", "source_document_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    issuing_centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    physician_number: Mapped[str] = mapped_column(String(12))
    patient_national_id: Mapped[str] = mapped_column(String(10))
    level: Mapped[int] = mapped_column(Integer)
    specialty: Mapped[str | None] = mapped_column(String(40))
    reason_icd10: Mapped[str] = mapped_column(String(8))
    reason_text: Mapped[str | None] = mapped_column(String(500))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    visits: Mapped[int] = mapped_column(Integer)
    visits_used: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(10))
    # The level-1 visit document that issued it (source "document").
    source_document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    feedback_centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    feedback_diagnosis: Mapped[str | None] = mapped_column(String(8))
    feedback_findings: Mapped[str | None] = mapped_column(Text)
    feedback_plan: Mapped[str | None] = mapped_column(Text)
    feedback_back_to_level1: Mapped[bool | None] = mapped_column(Boolean)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReferralUse(Base):
    """One visit of a referral used by one document; at most one per document. Released
    (released_at set, the visit given back) when the document is rejected or voided."""

    __tablename__ = "referral_uses"
    __table_args__ = (
        Index("ix_referral_uses_referral", "referral_id"),
        Index("uq_referral_uses_document", "document_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"))
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    service_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
