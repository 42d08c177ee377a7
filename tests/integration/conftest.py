"""A running gateway: server and worker as real processes on real services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kombu import Connection

from gateway.kit.db import engine_for, session_factory, upgrade
from tests import services
from tests.factories import TODAY, seed_sample_tariff
from tests.live import free_port, log_tails
from tests.live import stop as _stop
from tests.live import wait_ready as _wait_ready
from tests.rabbitmq import Node, private_node

STACKS = {
    "sqlite+embedded": ("sqlite", "embedded"),
    "postgresql+rabbitmq": ("postgresql", "rabbitmq"),
    "postgresql+redis": ("postgresql", "redis"),
}


@dataclass
class Stack:
    name: str
    url: str
    database_url: str
    broker_url: str
    worker_metrics_url: str
    env: dict[str, str]
    log_dir: Path
    worker_command: list[str] = field(default_factory=list)
    worker_env: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    rabbitmq: Node | None = None  # the stack's own RabbitMQ node, when its module asks

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool children, as a crash would."""
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def start_worker(self) -> None:
        log = (self.log_dir / f"worker-{len(self.workers)}.log").open("wb")
        self.workers.append(
            subprocess.Popen(
                self.worker_command,
                env=self.worker_env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group, so a kill takes the pool
            )
        )

    def sessions(self):  # type: ignore[no-untyped-def]
        return session_factory(engine_for(self.database_url))

    def logs(self) -> str:
        return log_tails(self.log_dir)


def _broker_url(kind: str, tmp: Path) -> str:
    if kind == "embedded":
        return f"sqla+sqlite:///{tmp / 'broker.sqlite'}"
    url = services.RABBITMQ_URL if kind == "rabbitmq" else services.REDIS_URL
    if not services.reachable(url, 5672 if kind == "rabbitmq" else 6379):
        pytest.skip(f"{kind} unreachable at {url}: test skipped")
    return url


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'gateway.sqlite'}"
        return
    services.require_postgres()
    with services.temporary_postgres_database() as url:
        yield url
        engine_for(url).dispose()


def _drop_queue(broker_url: str, queue: str) -> None:
    if broker_url.startswith("sqla+"):
        return
    try:
        with Connection(broker_url, connect_timeout=3) as connection:
            connection.default_channel.queue_delete(queue)
    except Exception:  # noqa: S110 - best-effort clean-up of a test queue
        pass


@pytest.fixture(scope="module", params=list(STACKS))
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One running gateway per stack, shared by a module's tests (each makes its own centre).
    A module with ``OWN_RABBITMQ = True`` gets a RabbitMQ node of its own, which its tests
    may stop and restart, instead of the machine's."""
    db_kind, broker_kind = STACKS[request.param]
    tmp_path = tmp_path_factory.mktemp(request.param.replace("+", "-"))
    own = broker_kind == "rabbitmq" and getattr(request.module, "OWN_RABBITMQ", False)
    broker_url = "" if own else _broker_url(broker_kind, tmp_path)
    with ExitStack() as cleanup, _database(db_kind, tmp_path) as database_url:
        node = cleanup.enter_context(private_node(tmp_path / "rabbitmq")) if own else None
        broker_url = node.url if node is not None else broker_url
        upgrade(database_url)
        seed_sample_tariff(session_factory(engine_for(database_url)))
        port, metrics_port = free_port(), free_port()
        queue = f"gw-test-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_BROKER_URL": broker_url,
            "GATEWAY_QUEUE_NAME": queue,
            "GATEWAY_WORKER_METRICS_PORT": str(metrics_port),
            "GATEWAY_WORKER_METRICS_HOST": "127.0.0.1",
            "GATEWAY_OUTBOX_RELAY_INTERVAL_S": "0.5",
            "GATEWAY_OUTBOX_RELAY_GRACE_S": "1",
            "GATEWAY_CLOCK_DATE": TODAY.isoformat(),
            # No shedding: these tests are about what is stored, on a host of any speed
            # (a busy one lags the event loop); tests/submissions/test_overload.py
            # drives the shedding with waits it sets itself.
            "GATEWAY_INGEST_MAX_WAIT_S": "0",
            **getattr(request.module, "STACK_ENV", {}),  # a module's own settings
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # Only the worker keeps multiprocess metrics; it empties this folder as it starts,
        # so no other process of the stack may write there.
        worker_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics")}
        cleanup.callback(_drop_queue, broker_url, queue)
        logs = tmp_path / "logs"
        logs.mkdir()
        gateway = [sys.executable, "-m", "gateway"]
        log = cleanup.enter_context((logs / "server.log").open("wb"))
        server = subprocess.Popen(
            [*gateway, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        cleanup.callback(_stop, server)
        built = Stack(
            request.param,
            f"http://127.0.0.1:{port}",
            database_url,
            broker_url,
            f"http://127.0.0.1:{metrics_port}/metrics",
            env,
            logs,
            worker_command=[*gateway, "worker", "--concurrency", "2", "--loglevel", "WARNING"],
            worker_env=worker_env,
            rabbitmq=node,
        )
        built.start_worker()
        cleanup.callback(lambda: [_stop(w) for w in built.workers])
        processes = [built.workers[0], server]
        try:
            _wait_ready(built.url, processes)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{built.logs()}") from exc
        yield built
