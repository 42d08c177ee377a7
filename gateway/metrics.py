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
INGEST_SHED = Counter(
    "gateway_ingest_shed_total",
    "Submissions refused at once (503 overloaded, nothing stored) because they would have "
    "waited longer than the set bound to be written: on arrival, before parsing (stage="
    "arrival), or when the writer came to one that had already waited too long (stage=queue)",
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
REVIEW_DECISIONS = Counter(
    "gateway_review_decisions_total",
    "Priced documents sent to review or approved, by criterion (none = approved)",
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
