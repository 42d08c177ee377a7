"""`gateway demo`, the README's run command, from an empty directory to a priced document."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import services
from tests.factories import PRICED_STATES
from tests.integration.conftest import free_port

pytestmark = [pytest.mark.integration]
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "valid"


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_demo_runs_api_and_worker_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_"))}
    env["GATEWAY_WORKER_METRICS_PORT"] = str(free_port())
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--port", str(port), "--token", "demo-secret"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + services.WAIT_S
        while not ready(base):
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()
            waited = f"{base}/readyz did not answer 200 within {services.WAIT_S:.0f} s"
            assert time.monotonic() < deadline, f"{waited}\n{(tmp_path / 'demo.log').read_text()}"
            time.sleep(0.3)
        # The demo serves plain http: its workspace cookie must come back over it.
        assert "secure" not in httpx.get(f"{base}/web/login").headers["set-cookie"].lower()
        headers = {"Authorization": "Bearer demo-secret", "Content-Type": "application/json"}
        answer = httpx.post(
            f"{base}/v1/submissions",
            content=(EXAMPLES / "outpatient-visit.json").read_bytes(),
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        url = base + answer.json()["documents"][0]["url"]
        status = ""
        while time.monotonic() < deadline and status not in PRICED_STATES:
            status = httpx.get(url, headers=headers).json()["status"]
            time.sleep(0.3)
        assert status in PRICED_STATES, (tmp_path / "demo.log").read_text()
        assert (tmp_path / "gateway.sqlite").exists()
        assert (tmp_path / "gateway-broker.sqlite").exists()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
    output = (tmp_path / "demo.log").read_text()
    assert "token demo-secret" in output
    assert f"curl -s -X POST {base}/v1/submissions" in output
    leftovers = subprocess.run(
        ["pgrep", "-s", str(demo.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == [], "the demo left processes running"
