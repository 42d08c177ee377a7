"""A live gateway for the tests that need real processes: `gateway serve` and `gateway
worker` started beside each other, waited on until ready, their logs kept in a folder and
shown when start-up fails, stopped when the block ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import services
from tests.factories import TODAY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    """Until ``url``/readyz answers 200; raises if a process ends first or time runs out."""
    deadline = time.monotonic() + services.WAIT_S
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url}/readyz did not answer 200 within {services.WAIT_S:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tails(log_dir: Path) -> str:
    """The end of every log in the folder, each under its name."""
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in log_dir.glob("*.log")
    )


def gateway_env(
    *, database_url: str, tmp: Path, queue_prefix: str, **settings: str
) -> dict[str, str]:
    """This process's environment without its GATEWAY_ settings, plus a live gateway's:
    the database, an embedded broker and worker metrics in ``tmp``, a queue of its own,
    a quick outbox relay, the tests' clock, and ``settings`` on top."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.sqlite'}",
        "GATEWAY_QUEUE_NAME": f"{queue_prefix}-{uuid.uuid4().hex[:8]}",
        "GATEWAY_WORKER_METRICS_PORT": "0",
        "GATEWAY_OUTBOX_RELAY_INTERVAL_S": "0.5",
        "GATEWAY_OUTBOX_RELAY_GRACE_S": "1",
        "GATEWAY_CLOCK_DATE": TODAY.isoformat(),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "worker-metrics"),
        **settings,
    }


@dataclass
class LiveGateway:
    url: str
    env: dict[str, str]
    log_dir: Path

    def logs(self) -> str:
        return log_tails(self.log_dir)


@contextmanager
def live_gateway(tmp: Path, env: dict[str, str]) -> Iterator[LiveGateway]:
    """A worker (one process, WARNING) and the API on a free port, with ``env``; their
    logs in ``tmp``/logs. A start-up failure is an AssertionError carrying the logs."""
    port = free_port()
    log_dir = tmp / "logs"
    log_dir.mkdir()
    with ExitStack() as cleanup:
        processes = []
        for name, args in (
            ("worker", ["worker", "--concurrency", "1", "--loglevel", "WARNING"]),
            ("server", ["serve", "--port", str(port)]),
        ):
            log = cleanup.enter_context((log_dir / f"{name}.log").open("wb"))
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway", *args], env=env, stdout=log, stderr=log
            )
            cleanup.callback(stop, process)
            processes.append(process)
        live = LiveGateway(f"http://127.0.0.1:{port}", env, log_dir)
        try:
            wait_ready(live.url, processes)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{live.logs()}") from exc
        yield live
