"""The worker process: Celery's worker plus a /metrics endpoint summing all its children.

Started by ``gateway worker``, which sets PROMETHEUS_MULTIPROC_DIR before this module (and
prometheus-client) is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import IO

import celery.apps.worker
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from gateway import logs
from gateway.settings import get_settings
from workers.app import celery_app

log = logging.getLogger("gateway.worker")


def say_as_log(message: str, f: IO[str] | None = None) -> None:
    """Celery's shutdown notices ("worker: Warm shutdown (MainProcess)", "Hitting Ctrl+C
    again ..."), which its ``safe_say`` writes raw to stdout from the signal handler, as
    one JSON line on stderr like every other line of the worker. Written with os.write,
    as Celery does, so that a signal arriving while a log handler holds its lock cannot
    wait for that lock."""
    if not logging.getLogger("celery.worker").isEnabledFor(logging.INFO):
        return  # levels are honoured: a worker at WARNING says nothing of it
    ours = [h for h in logging.getLogger().handlers if h.get_name() == logs.HANDLER_NAME]
    formatter = ours[0].formatter if ours and ours[0].formatter else logs.JsonFormatter()
    record = logging.LogRecord("celery.worker", logging.INFO, __file__, 0, message, None, None)
    # A notice lost on the way out must not stop the shutdown.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.write(sys.__stderr__.fileno(), (formatter.format(record) + "\n").encode())  # type: ignore[union-attr]


def main(argv: list[str]) -> None:
    settings = get_settings()
    logs.configure_logging(settings.log_level, settings.log_format)
    if settings.worker_metrics_port:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        try:
            start_http_server(
                settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
            )
        except OSError as error:
            log.error(
                "cannot serve the worker's metrics on %s:%s: %s (set "
                "GATEWAY_WORKER_METRICS_PORT to a free port, or 0 for none)",
                settings.worker_metrics_host,
                settings.worker_metrics_port,
                error.strerror or error,
            )
            raise SystemExit(1) from None
    # --quiet: no start-up banner on stdout; the worker's "ready" line is logged as JSON.
    celery.apps.worker.safe_say = say_as_log
    celery_app.worker_main(["--quiet", "worker", "-Q", settings.queue_name, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
