"""The demo's sample documents: built from the bundled examples, renumbered, spread."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import demo_samples
from gateway.submissions.service import parse_valid
from validators.schema import Format

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
TODAY = date(2026, 11, 23)


def bodies() -> list[tuple[demo_samples.Sample, dict[str, Any]]]:
    built = demo_samples.build(examples=EXAMPLES, today=TODAY)
    return [(sample, json.loads(sample.body)) for sample in built]


def test_every_valid_example_is_sent_once_per_sample_centre_and_one_is_invalid() -> None:
    built = demo_samples.build(examples=EXAMPLES, today=TODAY)
    valid = sorted(p.name for p in (EXAMPLES / "valid").glob("*.json"))
    for centre in demo_samples.SAMPLE_CENTRES:
        mine = [s for s in built if s.centre == centre and s.example in valid]
        assert sorted(s.example for s in mine) == valid
    assert [s.example for s in built if s.example not in valid] == [demo_samples.REJECTED_EXAMPLE]
    assert len({s.key for s in built}) == len(built)  # one Idempotency-Key each


def test_samples_are_schema_valid_and_carry_their_centre_and_own_numbers() -> None:
    example_numbers = {
        next(iter(d.values()))["documentNumber"]
        for p in (EXAMPLES / "valid").glob("*.json")
        for d in json.loads(p.read_text())["documents"]
    }
    for sample, content in bodies():
        submission = parse_valid(sample.body, Format.JSON)  # raises on a schema problem
        assert submission.centre_code == sample.centre
        numbers = [next(iter(d.values()))["documentNumber"] for d in content["documents"]]
        assert all(n.startswith("SMP-") and n not in example_numbers for n in numbers)
        assert all("referralCode" not in next(iter(d.values())) for d in content["documents"])


def test_dates_of_care_are_spread_over_four_weeks_and_never_after_today() -> None:
    latest: set[date] = set()
    for sample, content in bodies():
        dates = [date.fromisoformat(v) for v in demo_samples._dates(content)]
        assert max(dates) <= TODAY, sample.example
        latest.add(max(dates))
        created = date.fromisoformat(content["header"]["createdAt"][:10])
        assert created <= TODAY
    assert max(latest) - min(latest) >= timedelta(days=21)


def test_a_sample_refused_as_overloaded_is_sent_again_after_its_retry_after(
    monkeypatch: Any,
) -> None:
    """The gateway answers 503 twice (nothing stored), then 202: the loader waits as
    told and sends the same body and Idempotency-Key again; it counts one submission."""
    sample = demo_samples.build(examples=EXAMPLES, today=TODAY)[0]
    seen: list[tuple[bytes, str]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append((request.content, request.headers["Idempotency-Key"]))
        if len(seen) < 3:
            return httpx.Response(503, headers={"Retry-After": "2"}, json={"errors": []})
        return httpx.Response(202, json={"documents": [{"id": "d-1"}]})

    slept: list[float] = []
    monkeypatch.setattr(demo_samples.time, "sleep", slept.append)
    client = httpx.Client(transport=httpx.MockTransport(gateway), base_url="http://demo")
    loader = demo_samples.SampleLoader(
        client, centre_tokens={sample.centre: "t"}, auditor_token="a"
    )
    assert loader._submit(sample) == {"d-1"}
    assert seen == [(sample.body, sample.key)] * 3
    assert slept == [2.0, 2.0]
    assert loader.loaded.submitted == 1


def test_a_sample_still_refused_after_its_tries_fails_the_loading(monkeypatch: Any) -> None:
    sample = demo_samples.build(examples=EXAMPLES, today=TODAY)[0]
    tries: list[None] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        tries.append(None)
        return httpx.Response(503, headers={"Retry-After": "1"}, json={"errors": []})

    monkeypatch.setattr(demo_samples.time, "sleep", lambda _: None)
    client = httpx.Client(transport=httpx.MockTransport(gateway), base_url="http://demo")
    loader = demo_samples.SampleLoader(
        client, centre_tokens={sample.centre: "t"}, auditor_token="a"
    )
    with pytest.raises(httpx.HTTPStatusError):
        loader._submit(sample)
    assert len(tries) == demo_samples.OVERLOADED_TRIES
