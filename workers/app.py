"""The Celery application. Task metrics come from one set of signal hooks here."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import signals

from gateway import logs, metrics
from gateway.kit.broker import make_celery
from gateway.settings import get_settings

TASK_MODULES = ("workers.tasks", "workers.batches")

celery_app = make_celery(get_settings(), include=TASK_MODULES)
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
