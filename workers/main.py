"""The worker process: Celery's worker plus a /metrics endpoint summing all its children.

Started by ``gateway worker``, which sets PROMETHEUS_MULTIPROC_DIR before this module (and
prometheus-client) is imported.
"""

from __future__ import annotations

import sys

from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from gateway.settings import get_settings
from workers.app import celery_app


def main(argv: list[str]) -> None:
    settings = get_settings()
    if settings.worker_metrics_port:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(
            settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
        )
    celery_app.worker_main(["worker", "-Q", settings.queue_name, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
