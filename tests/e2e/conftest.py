"""A running gateway (server and worker processes) and Debian's Chromium for the browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.kit.db import engine_for, session_factory, upgrade
from tests import live, services
from tests.factories import seed_sample_tariff

CHROMIUM = Path(os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium"))
# Debian's Chromium, quiet: nothing fetched from outside, nothing but the page under test.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass
class Workspace(live.LiveGateway):
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


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The API and a worker on SQLite and the embedded broker; every priced document goes
    to review (amount threshold 0)."""
    tmp = tmp_path_factory.mktemp("workspace")
    database_url = f"sqlite:///{tmp / 'gateway.sqlite'}"
    upgrade(database_url)
    seed_sample_tariff(session_factory(engine_for(database_url)))
    engine_for(database_url).dispose()
    env = live.gateway_env(
        database_url=database_url,
        tmp=tmp,
        queue_prefix="gw-e2e",
        GATEWAY_REVIEW_AMOUNT_THRESHOLD="0",
        GATEWAY_INGEST_MAX_WAIT_S="0",  # the pages, not shedding, on a host of any speed
        GATEWAY_SECRET_KEY=uuid.uuid4().hex,
        GATEWAY_COOKIE_SECURE="false",  # the browser talks plain http to 127.0.0.1
    )
    with live.live_gateway(tmp, env) as running:
        yield Workspace(running.url, running.env, running.log_dir)


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
