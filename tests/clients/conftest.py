"""A running gateway for the client package: the API and a worker as real processes, on
a PostgreSQL database of their own and the embedded broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.db import engine_for, session_factory
from tests import factories as f
from tests import live, services

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
        return live.log_tails(self.log_dir)


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
        env = live.gateway_env(
            database_url=database_url,
            tmp=tmp,
            queue_prefix="gw-client",
            GATEWAY_REVIEW_SAMPLE_PERCENT="0",
            GATEWAY_MAX_BODY_BYTES=str(64 * 1024),
            GATEWAY_BATCH_SPOOL_DIR=str(tmp / "spool"),
            GATEWAY_WEBHOOK_ALLOW_HTTP="true",
            GATEWAY_WEBHOOK_ALLOWED_PRIVATE_HOSTS='["127.0.0.1"]',
        )
        running = cleanup.enter_context(live.live_gateway(tmp, env))
        yield LiveGateway(running.url, sessions, running.log_dir)
