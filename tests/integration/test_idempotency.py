"""Concurrent requests with one Idempotency-Key create exactly one submission, against the
real server on every stack; a re-sent document number is a duplicate whatever the key."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from gateway.storage.models import Submission
from tests import factories as f
from tests.integration.conftest import Stack
from tests.integration.test_end_to_end import add_centre

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def test_concurrent_requests_with_one_key_make_one_submission(stack: Stack) -> None:
    code, token = add_centre(stack)
    body = f.as_json(f.submission(code, f.outpatient_visit(), f.outpatient_visit()))
    key = str(uuid.uuid4())
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Idempotency-Key": key,
    }

    def send(_: int) -> httpx.Response:
        return httpx.post(f"{stack.url}/v1/submissions", content=body, headers=headers, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, range(12)))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len({tuple(d["id"] for d in a.json()["documents"]) for a in answers}) == 1
    with stack.sessions()() as session:
        count = session.scalar(
            select(func.count()).select_from(Submission).where(Submission.idempotency_key == key)
        )
    assert count == 1

    other = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    again = httpx.post(f"{stack.url}/v1/submissions", content=body, headers=other, timeout=60)
    assert again.status_code in (202, 422), again.text
    if again.status_code == 202:
        assert {d["status"] for d in again.json()["documents"]} == {"REJECTED"}
        codes = {e["code"] for d in again.json()["documents"] for e in d["errors"]}
        assert "document.duplicate" in codes or any("duplicate" in c for c in codes)
