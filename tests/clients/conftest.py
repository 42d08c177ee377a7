"""A running gateway for the client package: the API and a worker as real processes, on
a PostgreSQL database of their own and the embedded broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.db import engine_for, session_factory
from tests import factories as f
from tests import services
from tests.integration.conftest import _stop, _wait_ready, free_port

try:
    import rasa_client  # noqa: F401 - the package under test
except ImportError as missing:  # pragma: no cover - an environment without the client
    raise ImportError(
        "the client package is not installed: `make install` installs it "
        "(pip install -e clients/python)"
    ) from missing


@dataclass
class LiveGateway:
    url: str
    sessions: sessionmaker[Session]
    log_dir: Path

    def centre(self) -> tuple[str, str]:
        """A new centre's code and token."""
        centre, token = f.make_centre(self.sessions)
        return centre.code, token

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in self.log_dir.glob("*.log")
        )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """Every document is decided at once (no review sample, a high review threshold), and
    webhooks may reach a receiver on this host, as a deployment with local receivers
    would allow."""
    tmp = tmp_path_factory.mktemp("client-gateway")
    with ExitStack() as cleanup:
        database_url = cleanup.enter_context(services.migrated_postgres_database())
        sessions = session_factory(engine_for(database_url))
        f.seed_sample_tariff(sessions)
        cleanup.callback(lambda: engine_for(database_url).dispose())
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.sqlite'}",
            "GATEWAY_QUEUE_NAME": f"gw-client-{uuid.uuid4().hex[:8]}",
            "GATEWAY_WORKER_METRICS_PORT": "0",
            "GATEWAY_OUTBOX_RELAY_INTERVAL_S": "0.5",
            "GATEWAY_OUTBOX_RELAY_GRACE_S": "1",
            "GATEWAY_CLOCK_DATE": f.TODAY.isoformat(),
            "GATEWAY_REVIEW_SAMPLE_PERCENT": "0",
            "GATEWAY_MAX_BODY_BYTES": str(64 * 1024),
            "GATEWAY_BATCH_SPOOL_DIR": str(tmp / "spool"),
            "GATEWAY_WEBHOOK_ALLOW_HTTP": "true",
            "GATEWAY_WEBHOOK_ALLOWED_PRIVATE_HOSTS": '["127.0.0.1"]',
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "worker-metrics"),
        }
        logs = tmp / "logs"
        logs.mkdir()
        processes = []
        for name, args in (
            ("worker", ["worker", "--concurrency", "1", "--loglevel", "WARNING"]),
            ("server", ["serve", "--port", str(port)]),
        ):
            log = cleanup.enter_context((logs / f"{name}.log").open("wb"))
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway", *args], env=env, stdout=log, stderr=log
            )
            cleanup.callback(_stop, process)
            processes.append(process)
        live = LiveGateway(f"http://127.0.0.1:{port}", sessions, logs)
        try:
            _wait_ready(live.url, processes)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{live.logs()}") from exc
        yield live
