"""`gateway demo` starts with work in its workspace: sample documents sent through the API,
priced by its worker and taken through review, once (a restart adds nothing)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import demo
from tests import services
from tests.integration.conftest import free_port

pytestmark = [pytest.mark.integration]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SAMPLE_NUMBER = re.compile(r"SMP-[A-Z0-9-]+")


@contextmanager
def running_demo(directory: Path, log_name: str) -> Iterator[tuple[str, Path]]:
    """The demo in ``directory`` (its database there), until the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_"))}
    log_path = directory / log_name
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--port", str(port)],
            cwd=directory,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=services.WAIT_S)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def samples_line(log_path: Path) -> dict[str, Any]:
    """The demo's line saying what its samples left, once it is printed."""
    give_up = time.monotonic() + services.WAIT_S
    while time.monotonic() < give_up:
        for line in log_path.read_text().splitlines():
            entry = json.loads(line)
            assert entry["level"] != "ERROR", line
            if "samples" in entry:
                return entry
        time.sleep(0.3)
    pytest.fail(f"no samples line within {services.WAIT_S:.0f} s:\n{log_path.read_text()}")


def auditor_token(log_path: Path) -> str:
    found = re.search(r"auditor    : token ([^\"\s]+)", log_path.read_text())
    assert found, log_path.read_text()
    return found.group(1)


def sample_documents(base: str, token: str) -> dict[tuple[str, str], dict[str, Any]]:
    answer = httpx.get(
        f"{base}/v1/documents",
        params={"limit": 500},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {
        (item["centre_code"], item["external_id"]): item
        for item in answer.json()["items"]
        if item["external_id"].startswith("SMP-")
    }


def workspace_queue(base: str, query: str) -> set[str]:
    """The sample numbers the workspace's review queue lists, logged in as the demo auditor."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        form = browser.get("/web/login")
        csrf = CSRF.search(form.text)
        assert csrf, form.text
        login = {"username": "auditor", "password": demo.DEMO_PASSWORD, "csrf_token": csrf[1]}
        assert browser.post("/web/login", data=login).status_code in (200, 303)
        page = browser.get(f"/web/queue?{query}")
        assert page.status_code == 200, page.text
        return set(SAMPLE_NUMBER.findall(page.text))


def test_the_demo_loads_its_samples_through_the_api_once(tmp_path: Path) -> None:
    with running_demo(tmp_path, "first.log") as (base, log_path):
        loaded = samples_line(log_path)
        token = auditor_token(log_path)
        documents = sample_documents(base, token)
        statuses = Counter(d["status"] for d in documents.values())
        under_review = {n for (_, n), d in documents.items() if d["status"] == "UNDER_REVIEW"}
        appealed = workspace_queue(base, "appealed=1")
        queue = workspace_queue(base, "status=UNDER_REVIEW")
        waiting = workspace_queue(base, "status=INFO_REQUESTED")
        rejected_id = next(d["id"] for d in documents.values() if d["status"] == "REJECTED")
        rejected = httpx.get(
            f"{base}/v1/documents/{rejected_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert loaded["login"]["password"] == demo.DEMO_PASSWORD
    assert loaded["samples"]["submissions"] == 13
    assert loaded["samples"]["documents"] == dict(sorted(statuses.items()))
    # Both centres, ten documents each and the rejected one.
    assert Counter(centre for centre, _ in documents) == {"DEMO-001": 11, "PNG-KRJ-02": 10}
    assert statuses["REJECTED"] == 1
    assert [p["code"] for p in rejected["problems"]] == ["line.amount-mismatch"]
    assert statuses["APPROVED"] >= 8  # the small ones approved automatically, two reviewed
    assert statuses["UNDER_REVIEW"] >= 3
    assert statuses["INFO_REQUESTED"] == 1
    assert queue == under_review
    assert len(appealed) == 1
    assert appealed <= queue
    assert len(waiting) == 1
    steps = loaded["samples"]["steps"]
    assert any(step.endswith(": appealed by the centre") for step in steps)
    assert any(step.endswith(": information requested") for step in steps)
    assert sum(step.endswith(": approved") for step in steps) == 2

    with running_demo(tmp_path, "second.log") as (base, log_path):
        again = samples_line(log_path)
        after = sample_documents(base, auditor_token(log_path))
    assert again["samples"]["submissions"] == 0
    assert again["samples"]["replayed"] == 13
    assert again["samples"]["steps"] == []
    assert {k: d["status"] for k, d in after.items()} == {
        k: d["status"] for k, d in documents.items()
    }
