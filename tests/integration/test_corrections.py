"""Void and replace over real HTTP with a real worker, on PostgreSQL (and Redis): a
document voided while its pricing message waits is never priced; a replacement voids its
original at once and is priced by the worker."""

from __future__ import annotations

import time

import httpx
import pytest

from tests import factories as f
from tests import services
from tests.factories import PRICED_STATES
from tests.integration.conftest import Stack
from tests.integration.test_end_to_end import add_centre, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("integration"),
    pytest.mark.parametrize("stack", ["postgresql+redis"], indirect=True),
]
JSON = {"Content-Type": "application/json"}


def _metric_seen(stack: Stack, sample: str) -> bool:
    deadline = time.monotonic() + services.WAIT_S
    while time.monotonic() < deadline:
        try:
            if sample in httpx.get(stack.worker_metrics_url, timeout=5).text:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def test_void_and_replace_while_the_worker_is_down(stack: Stack) -> None:
    code, token = add_centre(stack)
    stack.kill_worker()
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}) as client:
        withdrawn, original = (
            client.post(
                "/v1/submissions", content=f.as_json(f.submission(code)), headers=JSON
            ).json()["documents"][0]
            for _ in range(2)
        )
        voided = client.post(f"/v1/documents/{withdrawn['id']}/void", json={"reason": "sent twice"})
        assert voided.status_code == 200, voided.text
        number = original["external_id"]
        corrected = f.outpatient_visit(number=number)
        corrected["outpatientVisit"] = {"documentNumber": number, "replaces": number} | {
            k: v for k, v in corrected["outpatientVisit"].items() if k != "documentNumber"
        }
        answer = client.post(
            "/v1/submissions", content=f.as_json(f.submission(code, corrected)), headers=JSON
        ).json()
        (replacement,) = answer["documents"]
        assert replacement["status"] == "ACCEPTED", replacement
        assert client.get(original["url"]).json()["status"] == "VOIDED"

        stack.start_worker()
        priced = wait_for(client, replacement["url"], PRICED_STATES)
        assert priced["status"] in PRICED_STATES, stack.logs()
        assert _metric_seen(stack, 'gateway_pricing_total{outcome="voided"}'), stack.logs()
        for document in (withdrawn, original):
            shown = client.get(document["url"]).json()
            assert shown["status"] == "VOIDED"
            assert shown["totals"]["eligible"] is None
