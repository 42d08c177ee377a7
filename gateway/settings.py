"""Runtime settings, read once from ``GATEWAY_*`` environment variables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.domain.webhook_addresses import AddressPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = PROJECT_ROOT / "schemas"


class Settings(BaseSettings):
    """Every knob of the gateway; the defaults run everything embedded in the working dir."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///gateway.sqlite",
        description="SQLAlchemy URL; e.g. postgresql+psycopg://user@host/db",
    )
    broker_url: str = Field(
        default="sqla+sqlite:///gateway-broker.sqlite",
        description="Celery broker: amqp://..., redis://..., or the embedded SQLite transport",
    )
    queue_name: str = Field(default="gateway.pricing", description="Celery queue for pricing")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, description="Largest accepted body")
    max_documents_per_submission: int = Field(default=1000)
    copay_outpatient: Decimal = Field(
        default=Decimal("0.30"), description="Co-payment share, contracted centres, outpatient"
    )
    copay_inpatient: Decimal = Field(
        default=Decimal("0.10"), description="Co-payment share, contracted centres, inpatient"
    )
    copay_owned_outpatient: Decimal = Field(
        default=Decimal(0), description="Co-payment share in the insurer's own centres"
    )
    copay_owned_inpatient: Decimal = Field(default=Decimal(0))
    review_amount_threshold: int = Field(
        default=500_000_000, description="Requested rials above which a document is reviewed"
    )
    review_deduction_share: Decimal = Field(
        default=Decimal("0.25"), description="Deductions / requested above which it is reviewed"
    )
    review_sample_percent: Decimal = Field(
        default=Decimal(5), description="Percent of each centre's documents a month sampled"
    )
    review_seed: str = Field(default="rasa-review", description="Seed of the review sample")
    review_sla_days: int = Field(
        default=7, ge=1, le=365, description="Days a document may wait in review (the queue's SLA)"
    )
    review_claim_minutes: int = Field(
        default=120, ge=1, le=7 * 24 * 60, description="Minutes an auditor's claim holds"
    )
    appeal_window_days: int = Field(
        default=30, description="Days after a decision within which a centre may appeal"
    )
    information_deadline_days: int = Field(
        default=14,
        ge=1,
        description="Days a centre has to answer an auditor's request for information; "
        "after them the request is overdue and the auditor is told",
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        description="Largest attachment a centre may send with an answer (PDF, JPEG, PNG)",
    )
    attachment_max_count: int = Field(
        default=10, ge=0, description="Most attachments one answer may carry"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the workspace session cookie; unset: a random key per process "
        "(sessions end at restart and do not carry across API processes)",
    )
    cookie_secure: bool = Field(
        default=True,
        description="Mark the workspace cookie Secure: browsers send it back over HTTPS only "
        "(false for a local demo over plain http; `gateway demo` turns it off)",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed workspace logins of one account within the window that lock it",
    )
    login_client_max_failures: int = Field(
        default=20,
        ge=1,
        description="Failed workspace logins from one client address within the window that "
        "lock that address (any account)",
    )
    login_failure_window_s: float = Field(
        default=900.0, gt=0, description="The window in which failed logins are counted"
    )
    login_lock_s: float = Field(
        default=300.0, gt=0, description="How long the first lock lasts; each further lock doubles"
    )
    login_lock_max_s: float = Field(
        default=3600.0, gt=0, description="The longest a lock lasts, however many came before"
    )
    session_idle_minutes: int = Field(
        default=480, ge=1, description="A workspace session ends after this long unused"
    )
    session_max_hours: int = Field(
        default=12, ge=1, description="A workspace session ends this long after login, used or not"
    )
    display_timezone: str = Field(
        default="Asia/Tehran", description="Time zone of the times the workspace shows"
    )
    stuck_after_s: float = Field(
        default=600.0, description="Age after which accepted-but-unpriced work is re-queued"
    )
    sweep_interval_s: float = Field(default=60.0, gt=0, description="How often the sweeper runs")
    analyze_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the API looks for tables grown to four times the rows their "
        "statistics counted, and analyzes them (PostgreSQL; 0 = never)",
    )
    ingest_max_wait_s: float = Field(
        default=0.2,
        ge=0,
        description="Longest a submission may wait to be written: one that would wait longer "
        "is refused at once (503 with Retry-After, nothing stored) instead of queued; "
        "0 = never refuse",
    )
    signals_interval_s: float = Field(
        default=15.0,
        gt=0,
        description="How often one API process reads the business signals (backlogs, their "
        "ages, the audit chain's newest entries) from the database for /metrics",
    )
    signals_slow_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="How often it also reads money owed and the per-centre figures",
    )
    signals_audit_entries: int = Field(
        default=1000, ge=1, description="Newest audit-chain entries verified on each reading"
    )
    outbox_keep_days: float = Field(
        default=7.0,
        gt=0,
        description="Days a published outbox message is kept before the sweeper deletes it",
    )
    outbox_relay_interval_s: float = Field(default=2.0)
    outbox_relay_grace_s: float = Field(default=5.0, description="Age before the relay re-sends")
    worker_metrics_port: int = Field(default=9101, description="Worker /metrics port; 0 = off")
    worker_metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - Prometheus scrapes workers from other hosts
        description="Worker /metrics address",
    )
    submission_window_days: int = Field(
        default=90, description="Days after care (or discharge) within which documents count"
    )
    referral_validity_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days a family-physician referral stays valid from its issue date",
    )
    referral_self_copay: Decimal = Field(
        default=Decimal("1.00"),
        ge=0,
        le=1,
        description="The patient's share of a self-referred specialist visit where the "
        "referral programme applies (1 = the patient pays the full tariff)",
    )
    referral_feedback_days: int = Field(
        default=14,
        ge=1,
        description="Days after the visit within which the specialist's feedback counts as "
        "timely (the feedback completion rate)",
    )
    clock_date: date | None = Field(
        default=None,
        description="Fixes 'today' for the date rules (replaying an old month; tests); "
        "empty means the real date",
    )
    token_cache_s: float = Field(default=10.0, description="How long a verified token is cached")
    webhook_timeout_s: float = Field(
        default=10.0, description="Webhook POST timeout, for connecting and for each read"
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Delivery attempts per event before giving up"
    )
    webhook_retry_base_s: float = Field(
        default=30.0, description="Wait after the first failed attempt; doubles each time"
    )
    webhook_retry_max_s: float = Field(
        default=1800.0,
        description="Longest wait between attempts; keep it below the broker's visibility timeout",
    )
    webhook_allow_http: bool = Field(
        default=False,
        description="Accept http:// webhook URLs (events then travel unencrypted); off: https only",
    )
    webhook_allowed_private_hosts: list[str] = Field(
        default=[],
        description="Host names, addresses or networks (CIDR) that webhooks may reach although "
        "they are loopback, private or otherwise internal (JSON list); empty: public "
        "addresses only",
    )
    batch_spool_dir: Path = Field(
        default=Path("batch-spool"), description="Folder where uploaded batch files are kept"
    )
    max_batch_bytes: int = Field(
        default=4 * 1024**3, description="Largest batch file accepted, counted decompressed"
    )
    max_gzip_ratio: int = Field(
        default=200,
        description="Decompressed / compressed size above which a gzip body is refused as a "
        "bomb (checked once 10 MB have come out)",
    )
    batch_max_wait_s: float = Field(
        default=1800.0,
        ge=0,
        description="Longest a new batch may wait behind the batches not yet stored (foreseen "
        "from the pace of the last ones): an upload that would wait longer is refused before "
        "its body is read (503 with Retry-After); 0 = never refuse",
    )
    batch_chunk_documents: int = Field(
        default=500, ge=1, description="Documents stored per transaction while reading a batch"
    )
    batch_pricing_documents: int = Field(
        default=200, ge=1, description="Documents per pricing message sent for a batch"
    )
    log_level: str = Field(default="INFO", description="Lowest level logged: DEBUG, INFO, ...")
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one object per line (time, level, logger, message, request_id, "
        "context); text: plain lines for a terminal",
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description="Requests a minute each centre may make (429 with Retry-After beyond); "
        "0 = no limit",
    )
    rate_limit_burst: int = Field(
        default=0,
        ge=0,
        description="Requests a centre may make at once before the rate applies; "
        "0 = the per-minute figure",
    )
    eligibility_per_minute: int = Field(
        default=60,
        ge=0,
        description="Eligibility inquiries a minute each centre may make, on top of its general "
        "budget (429 with Retry-After beyond; shared through GATEWAY_RATE_LIMIT_REDIS_URL "
        "when set); 0 = no limit",
    )
    rate_limit_redis_url: str | None = Field(
        default=None,
        description="Redis holding the rate-limit buckets, shared by every API process; "
        "empty = kept in each process",
    )

    @field_validator("webhook_allowed_private_hosts")
    @classmethod
    def _private_hosts_parse(cls, entries: list[str]) -> list[str]:
        AddressPolicy.build(allow_http=False, allowed_private=entries)  # fails on a bad entry
        return entries

    def webhook_address_policy(self) -> AddressPolicy:
        """What webhooks may reach under these settings."""
        return AddressPolicy.build(
            allow_http=self.webhook_allow_http, allowed_private=self.webhook_allowed_private_hosts
        )


def today(settings: Settings) -> date:
    return settings.clock_date or datetime.now(UTC).date()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache after changing the environment)."""
    return Settings()
