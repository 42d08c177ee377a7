"""Every Prometheus metric of the gateway, API and workers alike, declared in one place.

In a process started with PROMETHEUS_MULTIPROC_DIR set (the worker always, the API when
it runs several processes), values are written to files there and summed at scrape time.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total", "Requests refused (429) because a centre was over its budget"
)
RATE_LIMIT_ERRORS = Counter(
    "gateway_rate_limit_store_errors_total",
    "Rate-limit checks that could not reach the shared store (the request was let through)",
)
LOGINS = Counter(
    "gateway_logins_total",
    "Workspace login tries by outcome: success, failed (wrong or unknown name or password, "
    "disabled account) or throttled (refused unchecked: the account or address is locked)",
    ["outcome"],
)
ELIGIBILITY_INQUIRIES = Counter(
    "gateway_eligibility_inquiries_total",
    "Eligibility inquiries answered, by door (api, fhir) and answer (covered, not-covered)",
    ["door", "answer"],
)
SUBMISSIONS = Counter(
    "gateway_submissions_total", "Submissions by input format and outcome", ["format", "outcome"]
)
INGEST_GROUP_SUBMISSIONS = Histogram(
    "gateway_ingest_group_submissions",
    "Submissions stored per transaction by the API's group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
INGEST_GROUP_RETRIES = Counter(
    "gateway_ingest_group_retries_total",
    "Groups rolled back on a conflict (a number or key taken meanwhile, a deadlock) and "
    "stored again one submission at a time",
)
EVENT_LOOP_LAG = Gauge(
    "gateway_event_loop_lag_seconds",
    "How late the API process's event loop wakes a short timer: the wait a request meets "
    "before any of its code runs (a moving average over its 10 ms ticks)",
    multiprocess_mode="max",
)
INGEST_SHED = Counter(
    "gateway_ingest_shed_total",
    "Ingest requests refused at once (503 overloaded, nothing stored) because they would "
    "have waited longer than the set bound to be written: at the front door, before any "
    "routing, authentication or body read (stage=door), in the route before parsing "
    "(stage=arrival), or when the writer came to one that had already waited too long "
    "(stage=queue)",
    ["stage"],
)
DOCUMENTS = Counter(
    "gateway_documents_total", "Documents received, by kind and outcome", ["kind", "outcome"]
)
VALIDATION_PROBLEMS = Counter(
    "gateway_validation_problems_total", "Problems reported to senders, by code", ["code"]
)
OUTBOX_PUBLISHED = Counter(
    "gateway_outbox_published_total", "Outbox messages handed to the broker", ["via"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "gateway_outbox_publish_failures_total", "Failed attempts to hand messages to the broker"
)
PRICING_DURATION = Histogram(
    "gateway_pricing_duration_seconds",
    "Time to price and store one batch of documents (one task)",
    buckets=LATENCY_BUCKETS,
)
PRICING = Counter("gateway_pricing_total", "Pricing runs by outcome", ["outcome"])
# What pricing did with each document it priced; auditors' decisions are AUDITOR_DECISIONS.
PRICING_ROUTED = Counter(
    "gateway_pricing_routed_total",
    "Priced documents pricing sent to review (by the criterion that sent it) or approved "
    "itself (criterion none)",
    ["criterion"],
)
DEDUCTIONS = Counter(
    "gateway_deductions_rials_total", "Rials deducted while pricing, by reason", ["reason"]
)
DEDUCTION_COUNT = Counter(
    "gateway_deductions_total",
    "Deductions made while pricing (one per line and reason)",
    ["reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retrying, abandoned (last attempt "
    "failed) or skipped (webhook disabled or gone, event already delivered)",
    ["outcome"],
)
WEBHOOK_FAILURES = Counter(
    "gateway_webhook_delivery_failures_total",
    "Failed webhook delivery attempts, by class: http-3xx, http-4xx, http-5xx, timeout, "
    "refused, tls, unresolved, network or blocked-address (the address policy refused it)",
    ["reason"],
)
BATCHES = Counter(
    "gateway_batches_total",
    "Batch files by event: received, replayed (same file again), refused (at upload), "
    "shed (refused before the body was read: the batches waiting would keep it too long), "
    "done or failed (processing ended)",
    ["outcome"],
)
TASKS = Counter("gateway_tasks_total", "Celery task runs by task and state", ["task", "state"])
TASK_DURATION = Histogram(
    "gateway_task_duration_seconds", "Celery task run time", ["task"], buckets=LATENCY_BUCKETS
)
OUTBOX_PENDING = Gauge(
    "gateway_outbox_pending",
    "Outbox messages not yet handed to the broker",
    multiprocess_mode="max",
)
OUTBOX_LAG = Gauge(
    "gateway_outbox_oldest_age_seconds",
    "Age of the oldest outbox message not yet handed to the broker (0 when none)",
    multiprocess_mode="max",
)
QUEUE_DEPTH = Gauge(
    "gateway_queue_depth",
    "Messages waiting in a broker queue, as the broker reports them",
    ["queue"],
    multiprocess_mode="max",
)
DEAD_LETTERS = Gauge(
    "gateway_dead_letters",
    "Messages in the dead-letter queue, waiting for an operator",
    multiprocess_mode="max",
)
BATCHES_OPEN = Gauge(
    "gateway_batches_open",
    "Batch files received and not yet finished, by status",
    ["status"],
    multiprocess_mode="max",
)
BATCH_DOCUMENTS_READ = Gauge(
    "gateway_batch_documents_read",
    "Documents read so far from the batch files still being processed",
    multiprocess_mode="max",
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of all processes sharing its metrics dir."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


DEAD_LETTERS_RECORDED = Counter(
    "gateway_dead_letters_recorded_total",
    "Tasks given up on and kept as dead letters, by task",
    ["task"],
)
SWEPT = Counter("gateway_swept_total", "Stuck work re-queued by the sweeper, by kind", ["kind"])
ANALYZED = Counter(
    "gateway_tables_analyzed_total",
    "Tables the API analyzed after they grew fourfold since their statistics, by table",
    ["table"],
)

# Business signals. Counters where the thing happens (after its commit); the levels below
# are read from the database by one collector (gateway.upkeep.signals) across all API
# processes, so each keeps the value most recently written by a live process.
AUDITOR_DECISIONS = Counter(
    "gateway_auditor_decisions_total",
    "Auditors' decisions on documents under review, by outcome (approved, denied)",
    ["outcome"],
)
REVIEW_WAIT = Histogram(
    "gateway_review_decision_seconds",
    "Time from pricing to an auditor's first decision on a document",
    buckets=tuple(m * 60 for m in (1, 5, 15, 60, 240, 720, 1440, 2880, 4320, 10080, 20160, 43200)),
)
APPEALS = Counter(
    "gateway_appeals_total", "Appeals made by centres (the document returns to review)"
)
VOIDS = Counter(
    "gateway_documents_voided_total",
    "Documents voided by their centres: voided outright (via=void) or by a replacement "
    "(via=replacement)",
    ["via"],
)
PAYER_SPLITS = Counter(
    "gateway_payer_splits_total",
    "Approved documents offered to the further payers, by outcome (split, already-split,"
    " nothing-owed, no-payers, not-approved)",
    ["outcome"],
)
PAYER_REVERSALS = Counter(
    "gateway_payer_reversals_total", "Payer transfers reversed (a split undone by a decision)"
)
REVIEW_BACKLOG = Gauge(
    "gateway_review_backlog",
    "Documents under review (waiting for an auditor)",
    multiprocess_mode="livemostrecent",
)
REVIEW_OLDEST = Gauge(
    "gateway_review_oldest_age_seconds",
    "Time the longest-waiting document under review has waited since it entered review "
    "(priced, or appealed) (0 when none)",
    multiprocess_mode="livemostrecent",
)
PRICING_BACKLOG = Gauge(
    "gateway_pricing_backlog",
    "Documents accepted and not yet priced",
    multiprocess_mode="livemostrecent",
)
PRICING_OLDEST = Gauge(
    "gateway_pricing_oldest_age_seconds",
    "Age of the oldest document accepted and not yet priced: the pricing lag (0 when none)",
    multiprocess_mode="livemostrecent",
)
APPEALS_OPEN = Gauge(
    "gateway_appeals_open",
    "Appealed documents back under review and not yet decided again",
    multiprocess_mode="livemostrecent",
)
APPEALS_OLDEST = Gauge(
    "gateway_appeals_oldest_age_seconds",
    "Age of the oldest open appeal (0 when none)",
    multiprocess_mode="livemostrecent",
)
INFORMATION_REQUESTS = Counter(
    "gateway_information_requests_total",
    "Requests for information auditors sent to centres (the document waits in INFO_REQUESTED)",
)
INFORMATION_ANSWERS = Counter(
    "gateway_information_answers_total",
    "Centres' answers to requests for information (the document returns to review)",
)
INFORMATION_OVERDUE = Counter(
    "gateway_information_overdue_total",
    "Requests for information found unanswered past their deadline (each counted once)",
)
ATTACHMENTS_REFUSED = Counter(
    "gateway_attachments_refused_total",
    "Answers refused for an attachment, by the first problem's code "
    "(attachment.unsupported-type, attachment.too-large, ...)",
    ["reason"],
)
INFORMATION_OPEN = Gauge(
    "gateway_information_requests_open",
    "Requests for information awaiting the centre's answer",
    multiprocess_mode="livemostrecent",
)
INFORMATION_OPEN_OVERDUE = Gauge(
    "gateway_information_requests_overdue",
    "Requests for information still unanswered past their deadline",
    multiprocess_mode="livemostrecent",
)
INFORMATION_OLDEST = Gauge(
    "gateway_information_request_oldest_age_seconds",
    "Age of the oldest unanswered request for information (0 when none)",
    multiprocess_mode="livemostrecent",
)
OWED = Gauge(
    "gateway_owed_rials",
    "Insurer's share owed to contracted centres, in rials, by stage (approved: not yet in "
    "a payment order; ordered: in an order not yet paid) and days since approval",
    ["stage", "age"],
    multiprocess_mode="livemostrecent",
)
AUDIT_VERIFIED_AT = Gauge(
    "gateway_audit_chain_verified_timestamp_seconds",
    "When the collector last verified the newest entries of the audit chain (Unix time)",
    multiprocess_mode="livemostrecent",
)
AUDIT_CHAIN_OK = Gauge(
    "gateway_audit_chain_ok",
    "1 when the last verification of the audit chain's newest entries found them intact, "
    "0 when it found a broken link",
    multiprocess_mode="livemostrecent",
)
SIGNALS_COLLECTED_AT = Gauge(
    "gateway_signals_collected_timestamp_seconds",
    "When the collector last read the business signals from the database (Unix time)",
    multiprocess_mode="livemostrecent",
)
# Per centre: read from the database on a slower turn, one series per centre with
# documents in the last two days (bounded by the registry; see docs/operations.md).
CENTRE_DOCUMENTS = Gauge(
    "gateway_centre_documents_24h",
    "Documents a centre sent in the last 24 hours",
    ["centre"],
    multiprocess_mode="livemostrecent",
)
CENTRE_REJECTED = Gauge(
    "gateway_centre_rejected_24h",
    "Documents of the last 24 hours rejected at the door, by centre",
    ["centre"],
    multiprocess_mode="livemostrecent",
)
CENTRE_DEDUCTED = Gauge(
    "gateway_centre_deducted_rials_24h",
    "Rials deducted so far from documents a centre sent in the last 24 hours",
    ["centre"],
    multiprocess_mode="livemostrecent",
)

# The referral programme (docs/referrals.md). Counted in the transaction that does it, as
# the ingest counts documents; the collector's gauges below are exact.
REFERRALS_ISSUED = Counter(
    "gateway_referrals_issued_total",
    "Referrals issued by level-1 centres, by route (api, document, fhir) and level referred to",
    ["source", "level"],
)
REFERRALS_USED = Counter(
    "gateway_referrals_used_total",
    "Referral visits used by specialists' documents, by level",
    ["level"],
)
REFERRAL_FEEDBACK = Counter(
    "gateway_referral_feedback_total", "Specialists' feedback given on referrals"
)
REFERRAL_CHECKS = Counter(
    "gateway_referral_checks_total",
    "Specialist visits where the programme applies, by outcome (referred, self-referred, refused)",
    ["outcome"],
)
# Read by the signals collector (slow turn). Labels are bounded: status and level by the
# programme, province by the rollout table, centre by the registry.
REFERRALS_BY_STATUS = Gauge(
    "gateway_referrals",
    "Referrals by status (open, used, expired-unused, expired-partly) and level referred to",
    ["status", "level"],
    multiprocess_mode="livemostrecent",
)
SPECIALIST_VISITS = Gauge(
    "gateway_referral_specialist_visits_30d",
    "Specialists' documents of the last 30 days in the rollout's provinces, by province, "
    "level and how the patient came (referred, self-referred, emergency, none)",
    ["province", "level", "referral"],
    multiprocess_mode="livemostrecent",
)
REFERRAL_FEEDBACK_DUE = Gauge(
    "gateway_referral_feedback_due",
    "Referral visits of the last 90 days, old enough for feedback to be due, by the centre "
    "that used them",
    ["centre"],
    multiprocess_mode="livemostrecent",
)
REFERRAL_FEEDBACK_TIMELY = Gauge(
    "gateway_referral_feedback_timely",
    "Of those, the visits whose feedback came within GATEWAY_REFERRAL_FEEDBACK_DAYS",
    ["centre"],
    multiprocess_mode="livemostrecent",
)
