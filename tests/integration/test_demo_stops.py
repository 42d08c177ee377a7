"""`gateway demo` never runs an API whose worker is dead, and says why."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway import demo
from tests import services
from tests.integration.conftest import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "valid"

pytestmark = [pytest.mark.integration]


def test_the_demo_stops_with_a_message_when_its_worker_dies(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the worker binds its metrics port there
        taken.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_"))}
        env["GATEWAY_WORKER_METRICS_PORT"] = str(taken.getsockname()[1])
        finished = subprocess.run(
            [sys.executable, "-m", "gateway", "demo", "--port", str(free_port())],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert "the pricing worker stopped" in finished.stderr
    assert "Address already in use" in finished.stderr
    output = [line for line in (finished.stdout + finished.stderr).splitlines() if line]
    assert all(line.startswith("{") and json.loads(line) for line in output), [
        line for line in output if not line.startswith("{")
    ]


def test_the_demo_picks_a_free_worker_metrics_port_unless_one_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_WORKER_METRICS_PORT", raising=False)
    monkeypatch.delenv("GATEWAY_COOKIE_SECURE", raising=False)
    monkeypatch.delenv("GATEWAY_CLOCK_DATE", raising=False)
    chosen = demo.prepare_environment()
    assert os.environ["GATEWAY_WORKER_METRICS_PORT"] == str(chosen)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", chosen))  # free: nothing else holds it
    assert os.environ["GATEWAY_COOKIE_SECURE"] == "false"
    monkeypatch.setenv("GATEWAY_WORKER_METRICS_PORT", "9555")
    assert demo.prepare_environment() == 9555


def test_the_banner_names_the_workspace_and_its_demo_login(tmp_path: Path) -> None:
    logins = demo.DemoLogins("centre-token", "auditor-token", ("auditor", "finance"))
    text = demo.banner(base="http://127.0.0.1:8123", logins=logins, metrics_port=4321,
                       examples=tmp_path)  # fmt: skip
    assert "http://127.0.0.1:8123/web/" in text
    assert f"auditor, finance with password {demo.DEMO_PASSWORD}" in text
    assert "http://127.0.0.1:4321/metrics" in text
    assert "make run PORT=" in text


def test_every_line_the_demo_prints_is_json_with_one_access_line_per_request(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_"))}
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        demo_process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--port", str(port), "--token", "tok-1"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(base), what=f"the demo answering {base}/readyz")
        # The demo's sample documents go through the API too; their line comes last.
        wait_until(lambda: '"samples":' in log_path.read_text(), what="the samples' line")
        answer = httpx.post(
            f"{base}/v1/submissions",
            content=(EXAMPLES / "outpatient-visit.json").read_bytes(),
            headers={
                "Authorization": "Bearer tok-1",
                "Content-Type": "application/json",
                "X-Request-ID": "this-test-s-submission",
            },
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
        wait_until(
            lambda: '"request_id":"this-test-s-submission"' in log_path.read_text(),
            what="the submission's access line",
        )
    finally:
        os.killpg(demo_process.pid, signal.SIGINT)
        demo_process.wait(timeout=120)
    # The worker runs in a session of its own: the demo must not leave it (or its pool
    # children) behind. Its processes are named after the demo's pid.
    left = subprocess.run(
        ["pgrep", "-f", f"pricing-{demo_process.pid}@"], capture_output=True, text=True
    )
    assert left.stdout.strip() == "", f"worker processes left behind: {left.stdout}"
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = []
    for line in lines:
        assert line.startswith("{"), line
        entries.append(json.loads(line))
    assert all({"time", "level", "logger", "message", "request_id"} <= set(e) for e in entries)
    (access,) = [
        e
        for e in entries
        if e["logger"] == "gateway.access" and e["request_id"] == "this-test-s-submission"
    ]
    assert access["method"] == "POST"
    assert access["route"] == "/v1/submissions"
    assert access["status"] == 202
    assert access["centre"] == "DEMO-001"
    assert "tok-1" not in json.dumps(access)
    # The demo's worker runs at WARNING: none of Celery's INFO lines.
    assert not [e for e in entries if e["logger"].startswith("celery") and e["level"] == "INFO"]


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    condition: Callable[[], bool], *, what: str, deadline_s: float = services.WAIT_S
) -> None:
    """Poll the condition; a generous deadline, and the failure says what was awaited."""
    give_up = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {deadline_s:.0f} s waiting for {what}")
        time.sleep(0.2)
