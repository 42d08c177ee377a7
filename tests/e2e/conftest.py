"""A running gateway (server and worker processes) and Debian's Chromium for the browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.kit.db import engine_for, session_factory, upgrade
from tests import services
from tests.factories import TODAY, seed_sample_tariff
from tests.integration.conftest import _stop, _wait_ready, free_port

CHROMIUM = Path(os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium"))
# Debian's Chromium, quiet: nothing fetched from outside, nothing but the page under test.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass
class Workspace:
    url: str
    env: dict[str, str]
    log_dir: Path

    def gateway(self, *args: str, stdin: str | None = None) -> str:
        """Run the CLI against this gateway; its standard output."""
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=services.WAIT_S,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in self.log_dir.glob("*.log")
        )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The API and a worker on SQLite and the embedded broker; every priced document goes
    to review (amount threshold 0)."""
    tmp = tmp_path_factory.mktemp("workspace")
    database_url = f"sqlite:///{tmp / 'gateway.sqlite'}"
    upgrade(database_url)
    seed_sample_tariff(session_factory(engine_for(database_url)))
    engine_for(database_url).dispose()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.sqlite'}",
        "GATEWAY_QUEUE_NAME": f"gw-e2e-{uuid.uuid4().hex[:8]}",
        "GATEWAY_WORKER_METRICS_PORT": "0",
        "GATEWAY_OUTBOX_RELAY_INTERVAL_S": "0.5",
        "GATEWAY_OUTBOX_RELAY_GRACE_S": "1",
        "GATEWAY_CLOCK_DATE": TODAY.isoformat(),
        "GATEWAY_REVIEW_AMOUNT_THRESHOLD": "0",
        "GATEWAY_INGEST_MAX_WAIT_S": "0",  # the pages, not shedding, on a host of any speed
        "GATEWAY_SECRET_KEY": uuid.uuid4().hex,
        "GATEWAY_COOKIE_SECURE": "false",  # the browser talks plain http to 127.0.0.1
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "worker-metrics"),
    }
    logs = tmp / "logs"
    logs.mkdir()
    with ExitStack() as cleanup:
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
        built = Workspace(f"http://127.0.0.1:{port}", env, logs)
        try:
            _wait_ready(built.url, processes)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{built.logs()}") from exc
        yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian, driven by Playwright (never its own browser builds)."""
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        reason = f"Chromium not found at {CHROMIUM}" + (f" (but at {found})" if found else "")
        pytest.skip(f"{reason}: `make test` installs it with apt-get install -y chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()
