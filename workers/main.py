"""The worker process: Celery's worker plus a /metrics endpoint summing all its children.

Started by ``gateway worker``, which sets PROMETHEUS_MULTIPROC_DIR before this module (and
prometheus-client) is imported.
"""

from __future__ import annotations

import logging
import sys

from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from gateway import logs
from gateway.settings import get_settings
from workers.app import celery_app

log = logging.getLogger("gateway.worker")


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
    celery_app.worker_main(["--quiet", "worker", "-Q", settings.queue_name, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
