"""The Celery application. Task metrics come from one set of signal hooks here."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery, signals

from gateway import logs, metrics
from gateway.settings import Settings, get_settings
from workers import embedded_broker  # noqa: F401  (registers the embedded transport)

PRICE_DOCUMENT = "gateway.price_document"
PRICE_DOCUMENTS = "gateway.price_documents"
PROCESS_BATCH = "gateway.process_batch"


def make_celery(settings: Settings) -> Celery:
    app = Celery(
        "gateway",
        broker=settings.broker_url,
        include=["workers.tasks", "workers.webhooks", "workers.batches"],
    )
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue=settings.queue_name,
        task_serializer="json",
        accept_content=["json"],
        # One message reserved per worker process: the one it runs. A process storing a
        # 100,000-document batch for minutes would otherwise sit on the next messages it
        # had reserved (pricing of other centres' submissions among them) until it is done,
        # while the other workers idle. Costs a broker round trip between tasks (~1 ms).
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app


celery_app = make_celery(get_settings())
_started: dict[str, float] = {}


@signals.setup_logging.connect
def _setup_logging(loglevel: str | int | None = None, **_: Any) -> None:
    """Connected, so Celery leaves logging to us: the same JSON lines as the API, at the
    worker's ``--loglevel`` when it was given one."""
    settings = get_settings()
    logs.configure_logging(loglevel or settings.log_level, settings.log_format)


def correlation_of(request: Any) -> str | None:
    """The request id a task message carries (a custom header of protocol 2)."""
    found = getattr(request, "request_id", None)
    if found is None:
        found = (getattr(request, "headers", None) or {}).get("request_id")
    return str(found) if found else None


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id and task is not None:
        logs.request_id.set(correlation_of(task.request) or task_id)
        _started[task_id] = time.perf_counter()
        metrics.TASKS.labels(task.name, "started").inc()


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, state: str = "", **_: Any) -> None:
    began = _started.pop(task_id or "", None)
    if task is None:
        return
    metrics.TASKS.labels(task.name, (state or "unknown").lower()).inc()
    if began is not None:
        metrics.TASK_DURATION.labels(task.name).observe(time.perf_counter() - began)
    logs.request_id.set(None)


@signals.task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    if sender is not None:
        metrics.TASKS.labels(sender.name, "retried").inc()


@signals.worker_process_shutdown.connect
def _child_gone(pid: int | None = None, **_: Any) -> None:
    if metrics.multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
