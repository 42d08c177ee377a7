"""The batch task: store a spooled batch file's documents from where the last run stopped."""

from __future__ import annotations

import uuid

from gateway.batches.runner import process_batch
from gateway.kit.broker import PROCESS_BATCH
from gateway.kit.outbox import Publisher
from gateway.settings import get_settings
from workers.app import celery_app
from workers.tasks import RELIABLE, _sessions


@celery_app.task(name=PROCESS_BATCH, **RELIABLE)
def process_batch_task(batch_id: str) -> str:
    """Redelivered after a crash (acks late), it resumes at the batch's last chunk."""
    settings = get_settings()
    sessions = _sessions()
    publisher = Publisher(celery_app, sessions, settings.queue_name)
    return process_batch(
        sessions=sessions,
        batch_id=uuid.UUID(batch_id),
        settings=settings,
        publish=publisher.publish,
    )
