"""The broker as the gateway sees it: the task names (the message contract) and a Celery
client configured like the worker, built only when called.

The API sends tasks by name through the outbox, so nothing in gateway/ imports workers/;
the worker's own app (workers/app.py) is built from the same configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from gateway.kit import embedded_broker  # noqa: F401  (registers the embedded transport)
from gateway.settings import Settings

# Task names are part of the message contract between API and worker: rows already in an
# outbox carry them, so they never change when code moves.
PRICE_DOCUMENT = "gateway.price_document"
PRICE_DOCUMENTS = "gateway.price_documents"
PROCESS_BATCH = "gateway.process_batch"
DELIVER_WEBHOOK = "gateway.deliver_webhook"


def make_celery(settings: Settings, include: Sequence[str] = ()) -> Celery:
    """A Celery app for ``settings``; ``include`` names the task modules a worker loads."""
    app = Celery("gateway", broker=settings.broker_url, include=list(include))
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
