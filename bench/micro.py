"""Small costs on every request, timed here rather than in the tests (a stopwatch in a test
fails on a busy machine, not on slow code): masking a log line, taking a rate-limit token,
refusing an XML document that declares a DOCTYPE (a billion-laughs body).

Each figure is the best of several rounds: load from elsewhere slows a round, not the code.

    python bench/micro.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.kit.ratelimit import LocalBuckets  # noqa: E402
from gateway.logs import mask_text  # noqa: E402
from validators.schema import claim_schema  # noqa: E402

LOG_LINE = "POST /v1/submissions 202 for centre HOSP-0042 in 12.5 ms"
# Ten levels of ten: expanded, 10^9 "lol"s; refused, one parse that stops at the DOCTYPE.
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<submission>&lol9;</submission>\n"
)


class Figure(NamedTuple):
    name: str
    seconds: float  # the best round's time for one call
    target: float


def best(call: Callable[[int], None], calls: int, rounds: int = 5) -> float:
    """The fastest round's time per call."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for i in range(calls):
            call(i)
        times.append((time.perf_counter() - began) / calls)
    return min(times)


def measure() -> list[Figure]:
    buckets = LocalBuckets(per_minute=10**9, burst=10**9)
    schema = claim_schema()
    refused = schema.check_xml(LAUGHS)
    assert refused.root is None, "the billion-laughs body was not refused"
    return [
        Figure("mask a log line", best(lambda _: mask_text(LOG_LINE), 2_000), 50e-6),
        Figure("take a rate-limit token", best(lambda i: buckets.take(str(i % 100)), 5_000), 20e-6),
        Figure("refuse a billion-laughs body", best(lambda _: schema.check_xml(LAUGHS), 20), 1.0),
    ]


def main() -> None:
    for figure in measure():
        met = "met" if figure.seconds <= figure.target else "MISSED"
        print(
            f"{figure.name:<32} {figure.seconds * 1e6:>10,.1f} us"
            f"   target <= {figure.target * 1e6:,.0f} us   {met}"
        )


if __name__ == "__main__":
    main()
