"""`gateway demo` never runs an API whose worker is dead, and says why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import demo
from tests.integration.conftest import free_port

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
