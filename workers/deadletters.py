"""Records every task Celery gives up on as a dead letter (see gateway/upkeep/deadletters.py)."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from gateway import metrics
from gateway.kit.db import engine_for, session_factory, transaction
from gateway.settings import get_settings
from gateway.upkeep import deadletters

log = logging.getLogger(__name__)


@signals.task_failure.connect
def _dead_letter(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    kwargs: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    name = getattr(sender, "name", "unknown")
    retries = int(getattr(getattr(sender, "request", None), "retries", 0) or 0)
    try:
        sessions = session_factory(engine_for(get_settings().database_url))
        with transaction(sessions) as session:
            deadletters.record(
                session,
                task=name,
                task_id=task_id or "",
                payload=dict(kwargs or {}),
                error=f"{type(exception).__name__}: {exception}",
                retries=retries,
            )
        metrics.DEAD_LETTERS_RECORDED.labels(name).inc()
    except Exception:  # the database may be what failed; the broker log still has it
        log.exception("could not record dead letter for task %s %s", name, task_id)
