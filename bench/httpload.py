"""A lean HTTP/1.1 load generator: keep-alive connections on uvloop, requests prepared as
bytes beforehand, each response read by its Content-Length.

It shares the machine with the server it measures, so it must cost little: about 40 us
of CPU a request, against ~400 us for httpx. It speaks only what the benchmark needs
(POST with a body, a response with Content-Length, no chunking).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class Load:
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # each latency's answer
    failures: dict[str, int] = field(default_factory=dict)
    sample_failure: bytes = b""
    # Open loop: how long each request, once due, waited for a free connection of the
    # client's own: a wait the server cannot see, and so cannot shed.
    client_waits: list[float] = field(default_factory=list)
    # Open loop: when each latency's request was due, in seconds from the loop's start
    # (to see how the latencies move over the loop: onset, then steady state).
    dues: list[float] = field(default_factory=list)


def post_request(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, float]:
    """The answer's status, body and Retry-After (seconds, 0 without one)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, retry_after = 0, 0.0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"retry-after" and value.strip().isdigit():
            retry_after = float(value)
    return status, await reader.readexactly(length), retry_after


async def _run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    ok: Callable[[int, bytes], bool],
) -> Load:
    load = Load()
    queue = iter(requests)

    async def user() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in queue:
                began = time.perf_counter()
                status, body, retry_after = await _exchange(reader, writer, request)
                load.latencies.append(time.perf_counter() - began)
                load.statuses.append(status)
                if not ok(status, body):
                    key = str(status)
                    load.failures[key] = load.failures.get(key, 0) + 1
                    load.sample_failure = load.sample_failure or body[:500]
                if status == 503 and retry_after:
                    # As a client of the API is asked to: wait before sending again.
                    await asyncio.sleep(retry_after)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    load.elapsed = time.perf_counter() - began
    return load


async def _run_at_rate(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    connections: int,
    ok: Callable[[int, bytes], bool],
) -> Load:
    load = Load()
    queue = iter(enumerate(requests))
    began = time.perf_counter() + 0.05

    async def user() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index, request in queue:
                due = began + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                load.client_waits.append(max(0.0, time.perf_counter() - due))
                status, body, _ = await _exchange(reader, writer, request)
                # From when it was due, not when it was sent: a request that waited for a
                # free connection because answers came late counts its wait.
                load.latencies.append(time.perf_counter() - due)
                load.dues.append(due - began)
                load.statuses.append(status)
                if not ok(status, body):
                    key = str(status)
                    load.failures[key] = load.failures.get(key, 0) + 1
                    load.sample_failure = load.sample_failure or body[:500]
        finally:
            writer.close()

    await asyncio.gather(*(user() for _ in range(connections)))
    load.elapsed = time.perf_counter() - began
    return load


def _runner() -> Callable[..., Load]:
    try:
        import uvloop

        return uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run


def run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    ok: Callable[[int, bytes], bool],
) -> Load:
    """Closed loop: every request over ``concurrency`` connections, each waiting for its
    answer before sending the next (and, after a 503, for its Retry-After, as a client
    of the API is asked to); latencies are per request, elapsed the whole run."""
    return _runner()(_run(host, port, requests, concurrency, ok))


def run_at_rate(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    connections: int,
    ok: Callable[[int, bytes], bool],
) -> Load:
    """Open loop: request i is due at i / ``rate`` seconds, whenever earlier answers come,
    sent on the first of ``connections`` free then; its latency runs from when it was due.
    A server that cannot keep up sees the backlog (and the latencies) grow."""
    return _runner()(_run_at_rate(host, port, requests, rate, connections, ok))


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
