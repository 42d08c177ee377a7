"""Batch ingestion: a generated file uploaded to a real gateway on PostgreSQL, stored by
one worker process and priced by two.

Starts `gateway serve` and two `gateway worker --concurrency 1` processes on a fresh
temporary database (the broker is RabbitMQ when it answers on localhost, else the
embedded one), uploads the file and measures:

- documents/s from the start of the upload until every document is stored;
- the peak resident memory of each gateway process (server, workers and their children),
  sampled from /proc during the run and read as VmHWM at its end;
- seconds from the end of the upload until every accepted document is priced (or beyond);

and, in the same run, two floors: a bare lxml iterparse + XSD validation of the same
documents (in XML) and a bare COPY of the same stored rows (documents, lines and status
history, exported after the run) into copies of their tables with their indexes.

    python bench/batch.py                              # 100,000 25-line documents in XML
    python bench/batch.py --documents 20000 --format json
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402

from gateway.admin import service as admin  # noqa: E402
from gateway.admin.registry import SAMPLE_REGISTRY_DIR, import_registry  # noqa: E402
from gateway.domain.centres import Role  # noqa: E402
from gateway.kit.db import make_engine, session_factory, transaction, upgrade  # noqa: E402
from gateway.storage import repository  # noqa: E402
from validators.schema import NAMESPACE, claim_schema  # noqa: E402

PG_ADMIN = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ = os.environ.get("GATEWAY_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
CENTRE = "DEMO-001"
TARGETS = {"stored_per_s": 5000.0, "peak_mb": 300.0, "priced_after_s": 60.0}


@dataclass
class Figures:
    """What one run measured; ``table`` prints it beside the targets and the floors."""

    documents: int
    format: str
    file_mb: float
    broker: str
    upload_s: float = 0.0
    waited_s: float = 0.0  # from the batch's receipt until a worker started it
    processing_s: float = 0.0  # from its start until its last chunk was stored
    stored_s: float = 0.0  # upload start -> every document stored
    priced_after_s: float | None = None  # upload end -> every accepted document priced
    accepted: int = 0
    rejected: int = 0
    peak_mb: dict[str, float] = field(default_factory=dict)  # process -> VmHWM
    floor_lxml_per_s: float = 0.0
    floor_copy_rows_per_s: float = 0.0
    floor_copy_per_s: float = 0.0  # documents whose rows a bare COPY stores per second
    rows_per_document: float = 0.0
    load: list[float] = field(default_factory=list)  # 1-minute load average, start and end

    @property
    def stored_per_s(self) -> float:
        return self.documents / self.stored_s if self.stored_s else 0.0

    def table(self) -> str:
        peak = max(self.peak_mb.values(), default=0.0)
        priced = "-" if self.priced_after_s is None else f"{self.priced_after_s:.1f} s"
        rows = [
            (
                "upload -> all stored",
                f"{self.stored_per_s:,.0f} docs/s",
                ">= 5,000 docs/s",
                f"lxml {self.floor_lxml_per_s:,.0f}/s; COPY {self.floor_copy_per_s:,.0f}/s",
                f"{self.stored_per_s / self.floor_lxml_per_s:.2f}; "
                f"{self.stored_per_s / self.floor_copy_per_s:.2f}",
            ),
            ("peak RSS, one process", f"{peak:.0f} MB", "<= 300 MB", "", ""),
            ("upload end -> all priced", priced, "<= 60 s", "", ""),
        ]
        width = [max(len(str(r[i])) for r in rows) for i in range(5)]
        lines = [
            f"{self.documents:,} documents ({self.format}, {self.file_mb:,.0f} MB, "
            f"{self.accepted:,} accepted, {self.rejected:,} rejected), broker {self.broker}; "
            f"upload {self.upload_s:.1f} s, waiting for a worker {self.waited_s:.1f} s, "
            f"processing {self.processing_s:.1f} s, all stored after {self.stored_s:.1f} s",
            "  ".join(
                h.ljust(w)
                for h, w in zip(
                    ("figure", "measured", "target", "floor (same run)", "ratio"),
                    width,
                    strict=True,
                )
            ),
        ]
        lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
        lines.append(
            "peak RSS by process: "
            + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(self.peak_mb.items()))
        )
        lines.append(
            f"COPY floor: {self.floor_copy_rows_per_s:,.0f} rows/s, "
            f"{self.rows_per_document:.1f} rows per document; load average "
            + " -> ".join(f"{value:.1f}" for value in self.load)
        )
        return "\n".join(lines)


# -- databases and processes -----------------------------------------------------------------


@contextmanager
def database() -> Iterator[str]:
    name = f"gw_bench_batch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rabbitmq_answers() -> bool:
    from kombu import Connection

    try:
        with Connection(RABBITMQ, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def seed(url: str, register: Path) -> str:
    """Tariff, sample registry, the generated insured people; the demo centre's token."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        admin.import_tariff(session=session, directory=admin.SAMPLE_TARIFF_DIR, label="sample")
        import_registry(session=session, directory=SAMPLE_REGISTRY_DIR)
        import_registry(session=session, directory=register)
        centre = repository.get_centre_by_code(session, CENTRE)
        assert centre is not None
        token = admin.add_token(session=session, role=Role.CENTRE, centre=centre)
    engine.dispose()
    return token


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        for child in map(int, text.split()):
            found += [child, *_children(child)]
    return found


def _status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Memory(threading.Thread):
    """Samples the resident memory of named processes and their children."""

    def __init__(self, processes: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.peak_kb: dict[str, int] = {}
        self.stopping = threading.Event()

    def sample(self, key: str = "VmRSS") -> None:
        for name, pid in self.processes.items():
            for n, each in enumerate([pid, *_children(pid)]):
                label = name if n == 0 else f"{name}/child-{n}"
                kb = _status_kb(each, key)
                if kb is not None:
                    self.peak_kb[label] = max(self.peak_kb.get(label, 0), kb)

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.sample()

    def finish(self) -> dict[str, float]:
        self.stopping.set()
        self.join()
        self.sample("VmHWM")
        return {name: kb / 1024 for name, kb in self.peak_kb.items()}


def start(env: dict[str, str], logs: Path) -> dict[str, subprocess.Popen[bytes]]:
    gateway = [sys.executable, "-m", "gateway"]
    commands = {
        "server": [*gateway, "serve", "--port", env["BENCH_PORT"]],
        "worker-1": [*gateway, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
        "worker-2": [*gateway, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
    }
    started = {}
    for name, command in commands.items():
        with (logs / f"{name}.log").open("wb") as log:
            started[name] = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    return started


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout} s")


# -- floors ------------------------------------------------------------------------------------


def lxml_floor(path: Path) -> float:
    """Documents/s of a bare iterparse of the XML file with each document validated by the
    compiled XSD inside a one-document submission (no reading, rules or storage)."""
    ns = "{" + NAMESPACE + "}"
    tags = [ns + kind for kind in generate.KINDS]
    schema: Any = claim_schema()._schema
    mini: Any = None
    count = 0
    began = time.perf_counter()
    for _, element in etree.iterparse(
        str(path),
        events=("end",),
        tag=tags,
        load_dtd=False,
        no_network=True,
        resolve_entities=False,
    ):
        parent = element.getparent()
        if mini is None:
            root = element.getroottree().getroot()
            mini = etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap)
            mini.append(etree.fromstring(etree.tostring(root[0])))
            wrapper = etree.SubElement(mini, ns + "documents")
        wrapper.append(element)
        schema.validate(mini)
        wrapper.remove(element)
        parent.text = None
        count += 1
    return count / (time.perf_counter() - began)


def copy_floor(url: str, submission_id: str) -> tuple[float, int]:
    """Seconds and rows of a bare COPY of the batch's stored rows (documents, lines, their
    first two status events) into empty copies of those tables with their indexes."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    # The only value in these queries is a UUID, parsed here: nothing to escape.
    mine = f"d.submission_id = '{uuid.UUID(submission_id)}'"
    join = "JOIN documents d ON d.id = {}.document_id WHERE " + mine
    queries = {
        "documents": "SELECT d.* FROM documents d WHERE " + mine,  # noqa: S608
        "document_lines": "SELECT l.* FROM document_lines l " + join.format("l"),  # noqa: S608
        "status_events": "SELECT e.* FROM status_events e "  # noqa: S608
        + join.format("e")
        + " AND e.to_status IN ('RECEIVED', 'ACCEPTED', 'REJECTED')",
    }
    with psycopg.connect(dsn) as connection, tempfile.TemporaryDirectory() as folder:
        rows = 0
        for table, query in queries.items():
            connection.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
            with (
                (Path(folder) / table).open("wb") as out,
                connection.cursor().copy(f"COPY ({query}) TO STDOUT") as copy,
            ):
                for block in copy:
                    rows += bytes(block).count(b"\n")
                    out.write(block)
        connection.commit()
        began = time.perf_counter()
        for table in queries:
            with (
                (Path(folder) / table).open("rb") as source,
                connection.cursor().copy(f"COPY floor_{table} FROM STDIN") as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
        connection.commit()
        return time.perf_counter() - began, rows


# -- the run -----------------------------------------------------------------------------------


def _upload(url: str, token: str, path: Path, content_type: str) -> dict[str, Any]:
    def pieces() -> Iterator[bytes]:
        with path.open("rb") as source:
            while block := source.read(1 << 20):
                yield block

    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    answer = httpx.post(
        f"{url}/v1/batches", content=pieces(), headers=headers, timeout=httpx.Timeout(600)
    )
    answer.raise_for_status()
    batch: dict[str, Any] = answer.json()
    return batch


def _watch(
    url: str,
    token: str,
    batch: dict[str, Any],
    began: float,
    uploaded: float,
    figures: Figures,
    timeout: float,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while time.monotonic() < deadline:
            state = client.get(batch["url"]).json()
            now = time.perf_counter()
            if state["status"] == "failed":
                raise RuntimeError(f"the batch failed: {state['errors']}")
            if state["status"] == "done" and not figures.stored_s:
                figures.stored_s = now - began
                figures.accepted, figures.rejected = state["accepted"], state["rejected"]
                received, started, finished = (
                    datetime.fromisoformat(state[k])
                    for k in ("received_at", "started_at", "finished_at")
                )
                figures.waited_s = (started - received).total_seconds()
                figures.processing_s = (finished - started).total_seconds()
            if figures.stored_s and state["priced"] >= state["accepted"]:
                figures.priced_after_s = now - uploaded
                return
            time.sleep(0.5)
    raise TimeoutError(f"not all priced after {timeout} s")


def run(
    *,
    documents: int = 100_000,
    fmt: str = "xml",
    seed: int = 1,
    invalid_share: float = 0.05,
    timeout: float = 900,
    keep: Path | None = None,
) -> Figures:
    """One measured run; returns its figures (see the module's docstring)."""
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="gw-bench-batch-"))
        if keep is None:
            stack.callback(shutil.rmtree, work, True)
        made = generate.generate(
            work / f"batch.{fmt}",
            documents=documents,
            fmt=fmt,
            seed=seed,
            invalid_share=invalid_share,
            insured=work / "insured.csv",
        )
        xml = made.path
        if fmt != "xml":
            xml = generate.generate(
                work / "batch.xml", documents=documents, seed=seed, invalid_share=invalid_share
            ).path
        broker = RABBITMQ if _rabbitmq_answers() else f"sqla+sqlite:///{work / 'broker.sqlite'}"
        figures = Figures(
            documents,
            fmt,
            made.path.stat().st_size / 1e6,
            "RabbitMQ" if broker == RABBITMQ else "embedded",
        )
        figures.floor_lxml_per_s = lxml_floor(xml)
        url = stack.enter_context(database())
        upgrade(url)
        token = seed_database(url, work)
        port = _free_port()
        env = {
            **os.environ,
            "BENCH_PORT": str(port),
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_BROKER_URL": broker,
            "GATEWAY_QUEUE_NAME": f"gw-bench-{uuid.uuid4().hex[:8]}",
            "GATEWAY_WORKER_METRICS_PORT": "0",
            "GATEWAY_CLOCK_DATE": generate.CLOCK.isoformat(),
            "GATEWAY_BATCH_SPOOL_DIR": str(work / "spool"),
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        processes = start(env, work)
        for process in processes.values():
            stack.callback(_stop, process)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        memory = Memory({name: p.pid for name, p in processes.items()})
        memory.start()
        figures.load.append(os.getloadavg()[0])
        began = time.perf_counter()
        media = "application/xml" if fmt == "xml" else "application/json"
        batch = _upload(base, token, made.path, media)
        uploaded = time.perf_counter()
        figures.upload_s = uploaded - began
        _watch(base, token, batch, began, uploaded, figures, timeout)
        figures.peak_mb = memory.finish()
        figures.load.append(os.getloadavg()[0])
        for process in processes.values():
            _stop(process)
        seconds, rows = copy_floor(url, batch["submission_id"])
        figures.floor_copy_rows_per_s = rows / seconds
        figures.rows_per_document = rows / documents
        figures.floor_copy_per_s = documents / seconds
        return figures


def seed_database(url: str, work: Path) -> str:
    register = work / "register"
    register.mkdir()
    shutil.copy(work / "insured.csv", register / "insured.csv")
    return seed(url, register)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def profile(
    *, documents: int = 20_000, fmt: str = "xml", top: int = 30, profiled: bool = True
) -> str:
    """``process_batch`` in this process on a fresh database, nothing else running: with
    ``profiled``, under cProfile (reading in the same thread, so that one profile sees it
    all) with the top functions; without, as the worker runs it, documents/s and CPU."""
    import contextlib
    import cProfile
    import hashlib
    import io
    import pstats

    from gateway.batches import runner, service
    from gateway.batches.spool import Spooled
    from gateway.settings import Settings
    from validators.schema import Format

    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="gw-bench-profile-"))
        stack.callback(shutil.rmtree, work, True)
        made = generate.generate(
            work / f"batch.{fmt}", documents=documents, fmt=fmt, insured=work / "insured.csv"
        )
        url = stack.enter_context(database())
        upgrade(url)
        seed_database(url, work)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        sessions = session_factory(engine)
        (work / "spool").mkdir()
        spooled = work / "spool" / "upload"
        shutil.copy(made.path, spooled)
        digest = hashlib.sha256(spooled.read_bytes()).hexdigest()
        with transaction(sessions) as session:
            centre = repository.get_centre_by_code(session, CENTRE)
            assert centre is not None
            size = spooled.stat().st_size
            received = service.receive(
                session=session,
                centre=centre,
                fmt=Format(fmt),
                spooled=Spooled(spooled, digest, size, size),
                folder=work / "spool",
            )
        settings = Settings(
            database_url=url, clock_date=generate.CLOCK, batch_spool_dir=work / "spool"
        )
        cpu, began = time.process_time(), time.perf_counter()
        if not profiled:
            runner.process_batch(sessions=sessions, batch_id=received.batch.id, settings=settings)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - began
            return (
                f"{documents:,} documents ({fmt}) stored in this process: {wall:.1f} s, "
                f"{documents / wall:,.0f} documents/s, {cpu / documents * 1e6:.0f} us of CPU "
                "per document"
            )
        runner._ahead = contextlib.nullcontext  # type: ignore[assignment]
        profiler = cProfile.Profile()
        profiler.runcall(
            runner.process_batch, sessions=sessions, batch_id=received.batch.id, settings=settings
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - began
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(r"gateway|validators", top)
        head = (
            f"{documents:,} documents ({fmt}) in one thread under cProfile: {wall:.1f} s, "
            f"{cpu / documents * 1e6:.0f} us of CPU per document (profiler included)\n"
        )
        return head + out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--format", choices=("xml", "json"), default="xml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--invalid-share", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--keep", action="store_true", help="keep the files and logs")
    parser.add_argument(
        "--profile", action="store_true", help="instead: cProfile the processing in this process"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="instead: time the processing in this process"
    )
    args = parser.parse_args(argv)
    if args.profile or args.in_process:
        count = min(args.documents, 20_000)
        print(profile(documents=count, fmt=args.format, profiled=args.profile))
        return
    figures = run(
        documents=args.documents,
        fmt=args.format,
        seed=args.seed,
        invalid_share=args.invalid_share,
        timeout=args.timeout,
        keep=Path(".") if args.keep else None,
    )
    print(figures.table())


if __name__ == "__main__":
    main()
