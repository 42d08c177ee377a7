"""Pricing throughput: one process prices stored 25-line documents in batches on PostgreSQL.

Seeds N accepted documents (bench/seed_pricing.py: all five kinds, codes of the sample
tariff, valid national IDs of insured people, four centres of different sectors), then
prices them all through ``price_stored_documents``, one transaction per batch, as the
gateway.price_documents task does, with the tariff cached in memory. Prints documents/s,
lines/s, the share of the time spent blocked on the database and the CPU time of both
processes, and beside them a floor measured in the same run: a bare COPY of the same
pricing and deduction rows into the same tables.

    python bench/pricing.py                      # a fresh PostgreSQL database, dropped after
    python bench/pricing.py --documents 20000 --batch-size 1000
    python bench/pricing.py --database-url postgresql+psycopg://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.copy import LibpqWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.generate import CLOCK  # noqa: E402
from bench.seed_pricing import seed  # noqa: E402
from gateway.kit.db import make_engine, session_factory, transaction, upgrade  # noqa: E402
from gateway.pricing.engine.adjudicate import CopayPolicy  # noqa: E402
from gateway.pricing.engine.review import ReviewPolicy  # noqa: E402
from gateway.pricing.service import Policies, TariffCache, price_stored_documents  # noqa: E402
from gateway.storage.models import Document, LinePricing  # noqa: E402

PG_ADMIN = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POLICIES = Policies(
    copay=CopayPolicy(),
    review=ReviewPolicy(),
    clock_date=CLOCK,
)

# -- time spent waiting on the database --------------------------------------------------


class Clock:
    """Seconds spent blocked on PostgreSQL: statements, COPY transfers and commits; and
    the process id of the server backend, whose CPU time is read from /proc."""

    seconds = 0.0
    backend_pid = 0

    @classmethod
    def backend_cpu(cls) -> float | None:
        """CPU seconds the server process has used, when it runs on this machine."""
        try:
            fields = Path(f"/proc/{cls.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @classmethod
    @contextmanager
    def waiting(cls) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            cls.seconds += time.perf_counter() - began


class TimedWriter(LibpqWriter):
    def write(self, data: Any) -> None:
        with Clock.waiting():
            super().write(data)

    def finish(self, exc: BaseException | None = None) -> None:
        with Clock.waiting():
            super().finish(exc)


class TimedCursor(psycopg.Cursor[Any]):
    def execute(self, *args: Any, **kwargs: Any) -> Any:
        with Clock.waiting():
            return super().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> None:
        with Clock.waiting():
            super().executemany(*args, **kwargs)

    @contextmanager
    def copy(self, statement: Any, params: Any = None, *, writer: Any = None) -> Iterator[Any]:
        began = time.perf_counter()
        with super().copy(statement, params, writer=writer or TimedWriter(self)) as copy:
            Clock.seconds += time.perf_counter() - began
            yield copy


class TimedConnection(psycopg.Connection[Any]):
    def commit(self) -> None:
        with Clock.waiting():
            super().commit()


def timed_sessions(url: str) -> sessionmaker[Session]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)

    def connect() -> psycopg.Connection[Any]:
        connection = TimedConnection.connect(dsn, cursor_factory=TimedCursor)
        Clock.backend_pid = connection.info.backend_pid
        return connection

    return session_factory(make_engine(url, creator=connect, pool_size=1))


# -- the run -----------------------------------------------------------------------------


@dataclass
class Run:
    wall: float = 0.0  # seconds from the first batch to the last commit
    in_db: float = 0.0  # of which blocked on PostgreSQL
    cpu: float = 0.0  # CPU seconds of this process
    server_cpu: float | None = None  # CPU seconds of its PostgreSQL backend


def price_everything(sessions: sessionmaker[Session], batch_size: int) -> Run:
    """Price every accepted document, batch by batch, one transaction each, as the
    gateway.price_documents task does."""
    with sessions() as session:
        ids = list(
            session.scalars(
                select(Document.id)
                .where(Document.status == "ACCEPTED")
                .order_by(Document.submission_id, Document.ordinal)
            )
        )
    books = TariffCache()
    with sessions() as session:
        books.current(session)  # the tariff is cached before the clock starts
    Clock.seconds = 0.0
    server = Clock.backend_cpu()
    cpu, began = time.process_time(), time.perf_counter()
    for start in range(0, len(ids), batch_size):
        with transaction(sessions) as session:
            price_stored_documents(
                session=session,
                ids=ids[start : start + batch_size],
                books=books,
                policies=POLICIES,
            )
    run = Run(time.perf_counter() - began, Clock.seconds, time.process_time() - cpu)
    after = Clock.backend_cpu()
    if server is not None and after is not None:
        run.server_cpu = after - server
    return run


def copy_floor(url: str) -> tuple[float, int]:
    """Seconds for a bare COPY of every stored pricing and deduction row back into the
    same (emptied) tables, with their indexes, constraints and foreign keys."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    tables = ("line_pricings", "line_deductions")
    with psycopg.connect(dsn) as connection:
        saved: dict[str, bytes] = {}
        for table in tables:
            with connection.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                saved[table] = b"".join(bytes(block) for block in copy)
        connection.execute("TRUNCATE line_deductions, line_pricings")
        connection.commit()
        began = time.perf_counter()
        for table in tables:
            with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                copy.write(saved[table])
        connection.commit()
        rows = sum(data.count(b"\n") for data in saved.values())
        return time.perf_counter() - began, rows


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    name = f"gw_bench_pricing_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Figures:
    documents: int
    lines: int
    batch_size: int
    run: Run
    floor_s: float  # a bare COPY of the same pricing and deduction rows
    floor_rows: int

    @property
    def per_s(self) -> float:
        return self.documents / self.run.wall

    @property
    def floor_per_s(self) -> float:
        return self.documents / self.floor_s


def measure(
    *,
    documents: int = 10_000,
    lines: int = 25,
    batch_size: int = 500,
    seed_value: int = 1,
    database_url: str | None = None,
    quiet: bool = False,
) -> Figures:
    """Seed ``documents`` accepted documents in a fresh database (or ``database_url``),
    price them all and return the figures, with the COPY floor of the same rows."""
    with database(database_url) as url:
        upgrade(url)
        sessions = timed_sessions(url)
        began = time.perf_counter()
        seed(sessions, documents, lines, seed_value)
        if not quiet:
            print(f"seeded {documents:,} documents in {time.perf_counter() - began:.1f} s")
        analyse(url)
        run = price_everything(sessions, batch_size)
        with sessions() as session:
            rows = session.scalar(select(func.count()).select_from(LinePricing)) or 0
            left = session.scalar(
                select(func.count()).select_from(Document).where(Document.status == "ACCEPTED")
            )
        assert rows == documents * lines, f"{rows} pricing rows"
        assert left == 0, f"{left} documents left unpriced"
        sessions.kw["bind"].dispose()
        floor, floor_rows = copy_floor(url)
    return Figures(documents, lines, batch_size, run, floor, floor_rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use and keep")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report(
        measure(
            documents=args.documents,
            lines=args.lines,
            batch_size=args.batch_size,
            seed_value=args.seed,
            database_url=args.database_url,
        )
    )


def analyse(url: str) -> None:
    """What autovacuum would have done by the time a month's documents are priced."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def report(figures: Figures) -> None:
    run, documents, wall = figures.run, figures.documents, figures.run.wall
    server = "" if run.server_cpu is None else f", PostgreSQL backend {run.server_cpu:.2f} s"
    print(
        f"priced {documents:,} documents of {figures.lines} lines, "
        f"batches of {figures.batch_size}\n"
        f"  documents/s      {figures.per_s:10,.0f}   (target 3,000)\n"
        f"  lines/s          {documents * figures.lines / wall:10,.0f}\n"
        f"  wall time        {wall:10.2f} s\n"
        f"  in the database  {run.in_db:10.2f} s   ({run.in_db / wall:.0%} of the time)\n"
        f"  CPU              worker {run.cpu:.2f} s{server}\n"
        f"floor: bare COPY of the same {figures.floor_rows:,} pricing and deduction rows "
        f"into the same\n"
        f"  tables: {figures.floor_s:.2f} s, {figures.floor_per_s:,.0f} documents/s; "
        f"ratio to the floor {figures.floor_s / wall:.2f}"
    )


if __name__ == "__main__":
    main()
