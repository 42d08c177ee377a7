"""HTTP ingestion benchmark: one-document submissions, concurrently, to durable commit.

Starts `gateway serve` on a fresh PostgreSQL database (the sample tariff, a registry of
insured patients and one Tehran centre seeded; the broker is the local RabbitMQ when it
answers, else the embedded one) and sends 25-line XML submissions (an outpatient visit of
25 distinct covered codes, a fresh document number, one of 50,000 insured patients and a
day of the last 80 each) over keep-alive connections from this process. A document is
done when its 202 arrives, which the API sends only after its commit. After a warm-up:

- closed loop: ``--documents`` sent as fast as ``--concurrency`` connections get answers
  (a connection refused with 503 waits its Retry-After, as clients are asked to);
- open loop: ``--at-target`` offered at 800 a second whatever the answers, each latency
  counted from when its request was due (a server that falls behind sees it grow).

Beside the figures: the CPU each side used per document, and two floors measured in the
same run: a bare lxml parse + XSD validation of the same bodies on one core, and a bare
PostgreSQL COPY of every row the run stored (submissions, raw payloads, documents, lines,
status history, audit entries, outbox) back into the same emptied tables, with their
indexes and foreign keys, in one transaction.

    python bench/ingest.py                          # 2 API processes (make bench-ingest)
    python bench/ingest.py --api-processes 1 --documents 5000 --concurrency 16
    python bench/ingest.py --pricing-worker         # a worker prices while the load runs
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import httpload, procstat  # noqa: E402
from gateway.pricing.tariff_csv import read_book  # noqa: E402
from validators.schema import CLAIM_XSD, claim_schema  # noqa: E402

PG_ADMIN = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ = os.environ.get("GATEWAY_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
CENTRE = "BENCH-001"
CLOCK = date(2026, 11, 23)
EXAMPLE = ROOT / "schemas" / "examples" / "valid" / "outpatient-visit.json"
STORED_TABLES = (
    "submissions", "raw_payloads", "documents", "document_lines",
    "status_events", "audit_log", "outbox",
)  # fmt: skip
# Replaced in each body.
TARGET_RATE = 800.0
OPEN_LOOP_HOLD_S = 1.0  # an open loop has a second of its requests' worth of connections
# An open loop's onset: the first second, while the door has no answer rate measured yet
# and lets in what comes. Its latencies are reported apart as well.
ONSET_S = 1.0
NUMBER_MARK, PATIENT_MARK, INSURANCE_MARK = b"NUMBER-MARK", b"5555555555", b"777777777"
DATE_MARK = b"2026-01-01"
PATIENTS = 50_000


# -- the documents -----------------------------------------------------------------------


def national_ids(count: int, rng: random.Random) -> list[str]:
    """Distinct 10-digit national IDs with a valid check digit."""
    found: set[str] = set()
    while len(found) < count:
        digits = f"{rng.randrange(10**8, 10**9):09d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        found.add(digits + str(total if total < 2 else 11 - total))
    return sorted(found)


def bodies(count: int, lines: int, patients: list[str], rng: random.Random) -> list[bytes]:
    """XML submissions of one ``lines``-line outpatient visit each, indented as the
    bundled examples: distinct covered codes, a fresh number, a random insured patient
    and a random day of the last 80 (a patient seldom has the same service twice a day)."""
    data = orjson.loads(EXAMPLE.read_bytes())
    data["header"]["centreCode"] = CENTRE
    (visit,) = data["documents"][0].values()
    # A made-up code names no referral: marked self-referred, the visit is accepted (the
    # code looked up and kept as a warning) and priced under the self-referral policy.
    visit["referralCode"] = "1000456789"
    visit["selfReferred"] = True
    visit["patient"]["nationalId"] = PATIENT_MARK.decode()
    visit["patient"]["insuranceNumber"] = INSURANCE_MARK.decode()
    visit["serviceDate"] = DATE_MARK.decode()
    visit["documentNumber"] = NUMBER_MARK.decode()
    items = [
        i
        for i in read_book(ROOT / "schemas" / "tariff" / "sample").items
        if i.covered and i.kind != "package" and i.valid_to is None and i.setting != "inpatient"
    ]
    chosen = rng.sample(items, min(lines, len(items)))
    visit["lines"] = []
    for index in range(lines):
        item = chosen[index % len(chosen)]
        unit = 100_000 + 1_000 * index
        visit["lines"].append(
            {
                "codeType": "drug" if item.kind == "drug" else "service",
                "code": item.code,
                "description": item.title[:60],
                "quantity": 1,
                "unitPrice": unit,
                "amount": unit,
            }
        )
    visit["totalAmount"] = sum(line["amount"] for line in visit["lines"])
    check = claim_schema().check_json(orjson.dumps(data))
    assert check.ok, check.problems
    assert check.root is not None
    tree = etree.fromstring(etree.tostring(check.root), etree.XMLParser(remove_blank_text=True))
    template = etree.tostring(tree, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    assert all(template.count(mark) == 1 for mark in (NUMBER_MARK, PATIENT_MARK, INSURANCE_MARK))
    days = [(CLOCK - timedelta(days=n)).isoformat().encode() for n in range(3, 80)]
    run = uuid.uuid4().hex[:8]
    out = []
    for n in range(count):
        patient = rng.randrange(len(patients))
        out.append(
            template.replace(NUMBER_MARK, f"B{run}-{n}".encode())
            .replace(PATIENT_MARK, patients[patient].encode())
            .replace(INSURANCE_MARK, insurance_number(patient).encode())
            .replace(DATE_MARK, rng.choice(days))
        )
    return out


def insurance_number(patient: int) -> str:
    return str(1_000_000 + patient)


# -- the gateway under test ----------------------------------------------------------------


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"gw_bench_ingest_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, patients: list[str], work: Path) -> str:
    """Schema, sample tariff, insured patients and the centre; returns its token."""
    from gateway.admin import service as admin
    from gateway.admin.registry import import_registry
    from gateway.domain.centres import CentreKind, Role, Sector
    from gateway.kit.db import make_engine, session_factory, transaction, upgrade

    upgrade(url)
    (work / "insured.csv").write_text(
        "national_id,insurance_number,valid_from,valid_to\n"
        + "".join(f"{p},{insurance_number(n)},2024-03-20,\n" for n, p in enumerate(patients))
    )
    engine = make_engine(url, pool_size=1)
    try:
        with transaction(session_factory(engine)) as session:
            admin.import_tariff(session=session, directory=admin.SAMPLE_TARIFF_DIR, label="sample")
            import_registry(session=session, directory=work)
            centre = admin.add_centre(
                session=session,
                code=CENTRE,
                name="Benchmark hospital",
                kind=CentreKind.CONTRACTED,
                sector=Sector.PRIVATE,
                province="Tehran",
            )
            return admin.add_token(session=session, role=Role.CENTRE, centre=centre)
    finally:
        engine.dispose()


def broker_url(work: Path) -> str:
    """The local RabbitMQ when it answers, else the embedded broker in ``work``."""
    from kombu import Connection

    try:
        with Connection(RABBITMQ, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
        return RABBITMQ
    except Exception:
        return f"sqla+sqlite:///{work / 'broker.sqlite'}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_gateway(
    url: str, work: Path, port: int, api_processes: int, pricing_worker: bool
) -> Iterator[list[int]]:
    """`gateway serve` (and optionally `gateway worker`) on ``url``; yields their pids."""
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_BROKER_URL": broker_url(work),
        "GATEWAY_QUEUE_NAME": f"bench-{uuid.uuid4().hex[:6]}",
        "GATEWAY_WORKER_METRICS_PORT": "0",
        "GATEWAY_CLOCK_DATE": CLOCK.isoformat(),
        "GATEWAY_STUCK_AFTER_S": "86400",  # nothing prices meanwhile: no re-queueing sweeps
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
    }
    (work / "metrics").mkdir(exist_ok=True)
    gateway = [sys.executable, "-m", "gateway"]
    commands = [[*gateway, "serve", "--port", str(port), "--workers", str(api_processes)]]
    if pricing_worker:
        commands.append([*gateway, "worker", "--concurrency", "1"])
    with ExitStack() as stack:
        log = stack.enter_context((work / "gateway.log").open("wb"))
        pids = []
        for command in commands:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            stack.callback(process.wait, 30)
            stack.callback(process.terminate)
            pids.append(process.pid)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                tail = (work / "gateway.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the gateway did not start:\n{tail}")
            time.sleep(0.2)
        yield pids


def analyse(url: str) -> None:
    """Table statistics as autovacuum would have gathered them by now (this machine's
    PostgreSQL runs with autovacuum off: without statistics, the planner takes the tables
    filled by the warm-up for empty ones)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        connection.execute("ANALYZE")


# -- floors --------------------------------------------------------------------------------


def lxml_floor(sample: list[bytes], seconds: float = 2.0) -> float:
    """Documents/s of a bare lxml parse + XSD validation of these bodies, one core."""
    schema = etree.XMLSchema(etree.parse(str(CLAIM_XSD)))
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for body in sample:
            assert schema.validate(etree.fromstring(body, parser))
        done += len(sample)
    return done / (time.perf_counter() - began)


def copy_floor(url: str) -> tuple[float, int]:
    """Seconds to COPY every row the run stored back into the same emptied tables (one
    COPY per table, one commit), and how many rows that is."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as connection:
        saved: dict[str, bytes] = {}
        for table in STORED_TABLES:
            # A query, not the table: partitioned tables (status_events, audit_log) are
            # copied out only that way.
            query = f"COPY (SELECT * FROM {table}) TO STDOUT (FORMAT BINARY)"  # noqa: S608
            with connection.cursor().copy(query) as copy:
                saved[table] = b"".join(bytes(block) for block in copy)
        rows = 0
        for table in STORED_TABLES:
            count = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            rows += count[0] if count else 0
        connection.execute(f"TRUNCATE {', '.join(STORED_TABLES)} CASCADE")
        connection.commit()
        began = time.perf_counter()
        for table in STORED_TABLES:
            with connection.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(saved[table])
        connection.commit()
        return time.perf_counter() - began, rows


# -- the run -------------------------------------------------------------------------------


@dataclass
class Latency:
    rate: float  # answers a second, whatever their status
    p50: float  # latencies of the admitted (202) requests
    p99: float
    worst: float
    failures: dict[str, int]  # answers neither admitted nor shed, by status
    shed: float = 0.0  # share of the requests refused at once (503 overloaded)
    shed_p99: float = 0.0
    offered: float = 0.0  # documents a second offered (open loop)
    client_wait_p99: float = 0.0  # open loop: wait for a free connection of the client's
    # Open loop, the requests due after its onset (ONSET_S): admitted p99, the shed's p99.
    steady_p99: float = 0.0
    steady_shed_p99: float = 0.0

    @property
    def admitted_rate(self) -> float:
        """Answers a second that were not shed."""
        return self.rate * (1 - self.shed)

    @classmethod
    def of(cls, load: httpload.Load, offered: float = 0.0) -> Latency:
        admitted = [t for t, s in zip(load.latencies, load.statuses, strict=True) if s == 202]
        shed = [t for t, s in zip(load.latencies, load.statuses, strict=True) if s == 503]
        failures = {k: v for k, v in load.failures.items() if k != "503"}
        if failures:
            print(f"failures {failures}; first: {load.sample_failure!r}", file=sys.stderr)
        return cls(
            len(load.latencies) / load.elapsed,
            httpload.percentile(admitted, 0.50) if admitted else 0.0,
            httpload.percentile(admitted, 0.99) if admitted else 0.0,
            max(admitted, default=0.0),
            failures,
            len(shed) / len(load.latencies),
            httpload.percentile(shed, 0.99) if shed else 0.0,
            offered,
            httpload.percentile(load.client_waits, 0.99) if load.client_waits else 0.0,
            *_steady(load),
        )


def _steady(load: httpload.Load) -> tuple[float, float]:
    """Admitted p99 and the shed's p99 of the requests due after the open loop's onset."""
    if not load.dues:  # a closed loop
        return 0.0, 0.0
    later = [
        (t, s)
        for t, s, due in zip(load.latencies, load.statuses, load.dues, strict=True)
        if due >= ONSET_S
    ]
    admitted = [t for t, s in later if s == 202]
    shed = [t for t, s in later if s == 503]
    return (
        httpload.percentile(admitted, 0.99) if admitted else 0.0,
        httpload.percentile(shed, 0.99) if shed else 0.0,
    )


@dataclass
class Figures:
    documents: int
    saturated: Latency  # closed loop: as fast as the gateway answers
    at_target: Latency  # open loop: TARGET_RATE documents/s offered
    overloads: list[Latency]  # open loops at multiples of the closed loop's rate
    cpu_ms: dict[str, float]  # CPU milliseconds per document during the closed loop
    load_average: float
    lxml_floor: float
    copy_floor: float
    copy_rows: int

    def as_rows(self) -> list[tuple[str, str, str, str]]:
        """(figure, value, target, ratio to its floor) rows for `make bench`'s table."""
        rate = self.saturated.admitted_rate
        return [
            ("HTTP ingestion, one 25-line document per request", f"{rate:,.0f} docs/s",
             ">= 800 docs/s", ""),
            (f"  admitted p99 at {TARGET_RATE:,.0f} docs/s offered (answered "
             f"{self.at_target.rate:,.0f}/s)", f"{self.at_target.p99 * 1000:,.0f} ms",
             "<= 50 ms", ""),
            ("  floor: bare lxml parse+validate, one core", f"{self.lxml_floor:,.0f} docs/s",
             "", f"{rate / self.lxml_floor:.3f}"),
            ("  floor: bare COPY of the same rows", f"{self.copy_floor:,.0f} docs/s", "",
             f"{rate / self.copy_floor:.3f}"),
        ]  # fmt: skip


def accepted(status: int, body: bytes) -> bool:
    return status == 202 and b'"status":"ACCEPTED"' in body


def measure(
    *,
    documents: int = 15_000,
    at_target: int = 12_000,
    concurrency: int = 32,
    api_processes: int = 2,
    lines: int = 25,
    pricing_worker: bool = False,
    seed_value: int = 1,
    overloads: tuple[float, ...] = (),
    capacity: float | None = None,
) -> Figures:
    """Run the benchmark on a fresh database and return its figures: a warm-up, then
    ``documents`` as fast as the gateway answers ``concurrency`` connections, then
    ``at_target`` offered at TARGET_RATE a second, then ``at_target`` more at each of
    ``overloads`` times the closed loop's rate (or ``capacity``, to offer the same rates
    as another run)."""
    rng = random.Random(seed_value)
    patients = national_ids(PATIENTS, rng)
    warmup = max(500, documents // 20)
    total = warmup + documents + at_target * (1 + len(overloads))
    payloads = bodies(total, lines, patients, rng)
    sample = payloads[:200]
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as temp, fresh_database() as url:
        work = Path(temp)
        token = seed(url, patients, work)
        port = free_port()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
        requests = [
            httpload.post_request(f"127.0.0.1:{port}", "/v1/submissions", headers, body)
            for body in payloads
        ]
        del payloads
        first, second = requests[:warmup], requests[warmup : warmup + documents]
        rest = requests[warmup + documents :]
        third, later = rest[:at_target], rest[at_target:]
        heavy: list[Latency] = []
        with running_gateway(url, work, port, api_processes, pricing_worker) as pids:
            httpload.run("127.0.0.1", port, first, concurrency, accepted)
            analyse(url)
            load, cpu_ms, loadavg = _closed_loop(url, port, second, concurrency, pids)
            offered = httpload.run_at_rate(
                "127.0.0.1", port, third, TARGET_RATE, open_connections(TARGET_RATE), accepted
            )
            # Documents stored a second: the closed loop may have shed some (a 503 is cheap).
            capacity = capacity or load.statuses.count(202) / load.elapsed
            for n, times in enumerate(overloads):
                part, rate = later[n * at_target : (n + 1) * at_target], times * capacity
                heavy.append(
                    Latency.of(
                        httpload.run_at_rate(
                            "127.0.0.1", port, part, rate, open_connections(rate), accepted
                        ),
                        rate,
                    )
                )
        floor_lxml = lxml_floor(sample)
        copy_seconds, rows = copy_floor(url)
    return Figures(
        documents=documents,
        saturated=Latency.of(load),
        at_target=Latency.of(offered, TARGET_RATE),
        overloads=heavy,
        cpu_ms=cpu_ms,
        load_average=loadavg,
        lxml_floor=floor_lxml,
        copy_floor=len(requests) / copy_seconds,
        copy_rows=rows,
    )


def open_connections(rate: float) -> int:
    """Connections for an open loop at ``rate``: as many as a second of its requests, so
    that a request waits for a free connection of the client's own only when the server
    holds answers longer than a second. With fewer (the 128 used before), the requests
    an overloaded server never saw queued in the load generator, out of the server's
    reach, and that wait was most of the admitted p99."""
    return max(128, math.ceil(rate * OPEN_LOOP_HOLD_S))


def _closed_loop(
    url: str, port: int, requests: list[bytes], concurrency: int, pids: list[int]
) -> tuple[httpload.Load, dict[str, float], float]:
    """The closed-loop run, the CPU each side used per document meanwhile (ms), and the
    machine's load average at its end."""
    database = url.rsplit("/", 1)[1]
    api, backends = procstat.tree_cpu(pids), procstat.postgres_backends_cpu(database) or 0.0
    own = time.process_time()
    load = httpload.run("127.0.0.1", port, requests, concurrency, accepted)
    per_document = 1000 / len(requests)
    cpu = {
        "API processes": (procstat.tree_cpu(pids) - api) * per_document,
        "PostgreSQL backends": ((procstat.postgres_backends_cpu(database) or 0.0) - backends)
        * per_document,
        "load generator": (time.process_time() - own) * per_document,
    }
    return load, cpu, procstat.load_average()


def report(figures: Figures, args: argparse.Namespace) -> None:
    saturated, offered = figures.saturated, figures.at_target
    total_cpu = sum(figures.cpu_ms.values())
    print(
        f"\n  one-document submissions of {args.lines} lines, {args.api_processes} API "
        f"process(es)" + (", a pricing worker running" if args.pricing_worker else "")
    )
    rows = [
        (f"closed loop, {args.concurrency} connections",
         f"{saturated.admitted_rate:,.0f} documents/s stored over {figures.documents:,} "
         f"(target >= 800; {saturated.rate:,.0f} answers/s)"),
        ("  admitted latency p50 / p99 / max", _ms(saturated)),
        ("  shed (503 at once) / p99 of the shed", _shed(saturated)),
        (f"open loop, {TARGET_RATE:,.0f} documents/s offered",
         f"{offered.rate:,.0f} documents/s answered over {args.at_target:,}"),
        ("  admitted latency p50 / p99 / max", _ms(offered) + " (target p99 <= 50 ms)"),
        ("  shed (503 at once) / p99 of the shed", _shed(offered)),
        ("  p99 wait for a free client connection", f"{offered.client_wait_p99 * 1000:,.1f} ms"),
        *_overload_rows(figures, args),
        ("failed requests (neither 202 nor shed)", str(sum(sum(o.failures.values())
         for o in (saturated, offered, *figures.overloads)))),
        ("CPU per document (closed loop)",
         ", ".join(f"{k} {v:.2f} ms" for k, v in figures.cpu_ms.items())),
        ("  so two idle cores would answer at most", f"{2000 / total_cpu:,.0f} requests/s"),
        ("machine load average (1 min) at the end", f"{figures.load_average:.1f}"),
        ("floor: bare lxml parse+validate", f"{figures.lxml_floor:,.0f} documents/s, one core; "
         f"ratio {saturated.admitted_rate / figures.lxml_floor:.3f}"),
        ("floor: bare COPY of the rows", f"{figures.copy_floor:,.0f} documents/s "
         f"({figures.copy_rows:,} rows); ratio {saturated.admitted_rate / figures.copy_floor:.3f}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def _shed(latency: Latency) -> str:
    return f"{latency.shed:.1%} / {latency.shed_p99 * 1000:,.1f} ms"


def _overload_rows(figures: Figures, args: argparse.Namespace) -> list[tuple[str, str]]:
    """For each open loop at a multiple of the closed loop's rate: what was offered and
    answered, the admitted requests' latency, and the share shed."""
    rows = []
    for load in figures.overloads:
        times = load.offered / (args.capacity or figures.saturated.admitted_rate)
        rows += [
            (f"open loop, {times:.1f}x capacity ({load.offered:,.0f}/s offered)",
             f"{load.rate:,.0f} answers/s, {load.admitted_rate:,.0f} admitted/s"),
            ("  admitted latency p50 / p99 / max", _ms(load)),
            ("  shed (503 at once) / p99 of the shed", _shed(load)),
            (f"  after the first {ONSET_S:.0f} s: admitted p99 / p99 of the shed",
             f"{load.steady_p99 * 1000:,.1f} / {load.steady_shed_p99 * 1000:,.1f} ms"),
            ("  p99 wait for a free client connection",
             f"{load.client_wait_p99 * 1000:,.1f} ms"),
        ]  # fmt: skip
    return rows


def _ms(latency: Latency) -> str:
    return " / ".join(f"{v * 1000:,.1f}" for v in (latency.p50, latency.p99, latency.worst)) + " ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=15_000, help="closed-loop run")
    parser.add_argument("--at-target", type=int, default=12_000, help="open-loop run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--api-processes", type=int, default=2)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--pricing-worker", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--overload",
        type=float,
        action="append",
        default=[],
        help="after the 800/s open loop, another of --at-target documents offered at this "
        "multiple of the closed loop's rate (repeat it: --overload 2 --overload 3)",
    )
    parser.add_argument(
        "--capacity",
        type=float,
        help="documents/s that --overload multiplies, instead of the closed loop's rate "
        "(to offer the same rates as an earlier run)",
    )
    args = parser.parse_args()
    if min(args.documents, args.at_target, args.concurrency, args.api_processes) < 1:
        parser.error("--documents, --at-target, --concurrency and --api-processes must be >= 1")
    figures = measure(
        documents=args.documents,
        at_target=args.at_target,
        concurrency=args.concurrency,
        api_processes=args.api_processes,
        lines=args.lines,
        pricing_worker=args.pricing_worker,
        seed_value=args.seed,
        overloads=tuple(args.overload),
        capacity=args.capacity,
    )
    report(figures, args)


if __name__ == "__main__":
    main()
