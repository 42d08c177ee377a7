"""HTTP ingestion benchmark: one-document submissions, concurrently, to durable commit.

Prints documents/s and latency percentiles, and beside them the floor measured in the same
run on the same document: a bare lxml parse + XSD validation, in this process.

    python bench/ingest.py --start --database sqlite       # starts its own gateway
    python bench/ingest.py --start --database postgresql   # a fresh PostgreSQL database
    python bench/ingest.py --url http://127.0.0.1:8000 --token T
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from validators.schema import CLAIM_XSD, NAMESPACE  # noqa: E402

EXAMPLE = ROOT / "schemas" / "examples" / "valid" / "outpatient-visit"
NS = "{" + NAMESPACE + "}"
PG_ADMIN = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def xml_bodies(centre: str, count: int, lines: int) -> list[bytes]:
    root = etree.parse(str(EXAMPLE.with_suffix(".xml"))).getroot()
    root.find(f"{NS}header/{NS}centreCode").text = centre
    document = root.find(f"{NS}documents")[0]
    container = document.find(f"{NS}lines")
    first = container[0]
    for extra in container[1:]:
        container.remove(extra)
    for _ in range(lines - 1):
        container.append(copy.deepcopy(first))
    total = lines * int(first.find(f"{NS}amount").text)
    document.find(f"{NS}totalAmount").text = str(total)
    number = document.find(f"{NS}documentNumber")
    run = uuid.uuid4().hex[:8]
    bodies = []
    for index in range(count):
        number.text = f"B{run}-{index}"
        bodies.append(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return bodies


def json_bodies(centre: str, count: int, lines: int) -> list[bytes]:
    data = orjson.loads(EXAMPLE.with_suffix(".json").read_bytes())
    data["header"]["centreCode"] = centre
    (body,) = data["documents"][0].values()
    body["lines"] = [body["lines"][0]] * lines
    body["totalAmount"] = lines * body["lines"][0]["amount"]
    run = uuid.uuid4().hex[:8]
    bodies = []
    for index in range(count):
        body["documentNumber"] = f"B{run}-{index}"
        bodies.append(orjson.dumps(data))
    return bodies


def lxml_floor(body: bytes, seconds: float = 2.0) -> float:
    """Documents per second for a bare lxml parse + validate of ``body`` on one core."""
    schema = etree.XMLSchema(etree.parse(str(CLAIM_XSD)))
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for _ in range(50):
            assert schema.validate(etree.fromstring(body, parser))
        done += 50
    return done / (time.perf_counter() - began)


async def load(url: str, token: str, bodies: list[bytes], content_type: str, concurrency: int):
    latencies: list[float] = []
    failures: dict[int, int] = {}
    queue = iter(bodies)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=limits
    ) as client:

        async def user() -> None:
            for body in queue:
                began = time.perf_counter()
                response = await client.post("/v1/submissions", content=body)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 202 or response.json()["status"] != "ACCEPTED":
                    failures[response.status_code] = failures.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return elapsed, latencies, failures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextmanager
def started_gateway(database: str, port: int) -> Iterator[tuple[str, str, str]]:
    """A gateway (server + worker) on a fresh database; yields (url, token, database URL)."""
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gw-bench-")))
        if database == "postgresql":
            import psycopg

            name = f"gw_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')

            def drop() -> None:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

            stack.callback(drop)
            base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            database_url = f"{base}/{name}"
        else:
            database_url = f"sqlite:///{work / 'gateway.sqlite'}"
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_BROKER_URL": os.environ.get(
                "GATEWAY_BROKER_URL", f"sqla+sqlite:///{work / 'broker.sqlite'}"
            ),
            "GATEWAY_QUEUE_NAME": f"bench-{uuid.uuid4().hex[:6]}",
            "GATEWAY_WORKER_METRICS_PORT": "0",
        }
        gateway = [sys.executable, "-m", "gateway"]
        for args in (["db", "upgrade"], ["tariff", "import", str(ROOT / "schemas/tariff/sample")]):
            subprocess.run([*gateway, *args], env=env, check=True, capture_output=True)
        added = subprocess.run(
            [*gateway, "centre", "add", "BENCH-001"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        token = added.stdout.strip().splitlines()[-1]
        log = stack.enter_context((work / "gateway.log").open("wb"))
        for args in (["worker", "--concurrency", "1"], ["serve", "--port", str(port)]):
            process = subprocess.Popen([*gateway, *args], env=env, stdout=log, stderr=log)
            stack.callback(process.wait, 20)
            stack.callback(process.terminate)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url, token, database_url


def report(
    args: argparse.Namespace,
    database: str,
    elapsed: float,
    latencies: list[float],
    failures: dict[int, int],
    floor: float,
) -> None:
    rate = len(latencies) / elapsed
    rows = [
        ("database", database),
        ("format / lines per document", f"{args.format} / {args.lines}"),
        ("documents / concurrency", f"{len(latencies)} / {args.concurrency}"),
        ("failed requests", str(sum(failures.values())) + (f" {failures}" if failures else "")),
        ("elapsed", f"{elapsed:.2f} s"),
        ("throughput", f"{rate:,.0f} documents/s"),
        (
            "latency p50 / p90 / p99 / max",
            " / ".join(f"{percentile(latencies, q) * 1000:.1f}" for q in (0.5, 0.9, 0.99, 1.0))
            + " ms",
        ),
        (
            "latency mean (stdev)",
            f"{statistics.mean(latencies) * 1000:.1f} "
            f"({statistics.pstdev(latencies) * 1000:.1f}) ms",
        ),
        ("floor: bare lxml parse+validate, 1 core", f"{floor:,.0f} documents/s"),
        ("ratio throughput / floor", f"{rate / floor:.3f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--centre", default="BENCH-001", help="centre code of the token")
    parser.add_argument("--start", action="store_true", help="start a gateway for the run")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--format", choices=["xml", "json"], default="xml")
    args = parser.parse_args()
    make = xml_bodies if args.format == "xml" else json_bodies
    content_type = f"application/{args.format}"
    with ExitStack() as stack:
        if args.start:
            url, token, database = stack.enter_context(started_gateway(args.database, args.port))
        else:
            if not (args.url and args.token):
                parser.error("give --url and --token, or --start")
            url, token, database = args.url, args.token, "(running gateway)"
        bodies = make(args.centre, args.documents + 50, args.lines)
        floor = lxml_floor(xml_bodies(args.centre, 1, args.lines)[0])
        asyncio.run(load(url, token, bodies[:50], content_type, args.concurrency))  # warm-up
        elapsed, latencies, failures = asyncio.run(
            load(url, token, bodies[50:], content_type, args.concurrency)
        )
        report(args, database, elapsed, latencies, failures, floor)


if __name__ == "__main__":
    main()
