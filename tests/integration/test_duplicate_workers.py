"""Issue 22 on real processes: two Celery workers pricing a bill and its repeat at once
agree on which one is the duplicate (the later received), whatever order they run in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import factories as f
from tests.factories import PRICED_STATES
from tests.integration.conftest import Stack
from tests.integration.test_end_to_end import add_centre, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]
ROUNDS = 3


def _reasons(document: dict[str, Any]) -> list[str]:
    return [
        d["reason"]
        for line in document["lines"]
        for d in (line["pricing"] or {}).get("deductions", [])
    ]


def test_two_workers_pricing_a_repeat_at_once_deduct_the_later_received(stack: Stack) -> None:
    if not stack.database_url.startswith("postgresql"):
        pytest.skip("two workers pricing at once: the PostgreSQL stacks")
    first_centre, first_token = add_centre(stack)
    second_centre, second_token = add_centre(stack)
    stack.kill_worker()  # nothing prices until both bills of every round are queued
    rounds = []
    for _ in range(ROUNDS):
        visit = f.outpatient_visit([f.line("970000", 1, 650_000)])
        repeat = f.outpatient_visit([f.line("970000", 1, 650_000)])
        repeat["outpatientVisit"]["patient"] = visit["outpatientVisit"]["patient"]
        urls = []
        for code, token, document in (
            (first_centre, first_token, visit),
            (second_centre, second_token, repeat),
        ):
            answer = httpx.post(
                f"{stack.url}/v1/submissions",
                content=f.as_json(f.submission(code, document)),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=60,
            )
            assert answer.status_code == 202, answer.text
            urls.append((token, answer.json()["documents"][0]["url"]))
        rounds.append(urls)
    stack.start_worker()  # two worker processes each (concurrency 2), two workers in all
    stack.start_worker()
    for (first_token, first_url), (second_token, second_url) in rounds:
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            client.headers["Authorization"] = f"Bearer {first_token}"
            earlier = wait_for(client, first_url, PRICED_STATES)
            client.headers["Authorization"] = f"Bearer {second_token}"
            later = wait_for(client, second_url, PRICED_STATES)
        assert earlier["status"] in PRICED_STATES, stack.logs()
        assert later["status"] in PRICED_STATES, stack.logs()
        assert "duplicate-line" not in _reasons(earlier)
        assert _reasons(later).count("duplicate-line") == 1
        assert later["totals"]["eligible"] == 0
