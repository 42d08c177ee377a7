"""Every benchmark in one run, one table: each figure beside its target and the floor
measured in the same run (`make bench`).

Runs, in turn, on this machine's PostgreSQL (and RabbitMQ when it answers, else the
embedded broker), each on a fresh database dropped afterwards:

- validation on one core (bench/validate.py): XML and JSON, schema + every rule;
- pricing in one process (bench/pricing.py): stored 25-line documents, in batches;
- single-document HTTP ingestion (bench/ingest.py): a closed loop, then 800/s offered;
- a generated batch file through a real gateway (bench/batch.py): stored, memory, priced;
- small per-request costs (bench/micro.py): log masking, a rate-limit token, a DOCTYPE refused.

    python bench/all.py                 # the sizes the targets are stated for (~10 min)
    python bench/all.py --quick         # smaller runs, the same table (~4 min)
    python bench/all.py --only ingest batch
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import batch, ingest, micro, pricing, validate  # noqa: E402


@dataclass
class Row:
    figure: str
    measured: str
    target: str = ""
    floor: str = ""
    ratio: str = ""
    met: bool | None = None  # None: no target of its own (context)

    def cells(self) -> tuple[str, ...]:
        mark = "" if self.met is None else ("met" if self.met else "MISSED")
        return (self.figure, self.measured, self.target, self.floor, self.ratio, mark)


def validation_rows(quick: bool) -> list[Row]:
    figures = validate.measure(25, 1.0 if quick else 3.0)

    def rate(prefix: str) -> float:
        (name,) = [n for n in figures if n.startswith(prefix)]
        return figures[name].median

    xml, json_, reference = (
        rate("XML: schema + rules"),
        rate("JSON: schema + rules"),
        rate("xmlschema"),
    )
    floor = rate("bare lxml")
    return [
        Row("validation, XML, schema + rules, one core", f"{xml:,.0f} docs/s",
            ">= 5,000 docs/s", f"bare lxml {floor:,.0f}/s", f"{xml / floor:.2f}",
            xml >= 5_000),
        Row("validation, JSON, schema + rules, one core", f"{json_:,.0f} docs/s",
            f">= 20 x xmlschema ({reference:,.0f}/s)", f"bare lxml {floor:,.0f}/s",
            f"{json_ / floor:.2f}", None),
        Row("  JSON / xmlschema's own JSON validation", f"{json_ / reference:.1f} x",
            ">= 20 x", "", "", json_ / reference >= 20),
    ]  # fmt: skip


def pricing_rows(quick: bool) -> list[Row]:
    figures = pricing.measure(documents=5_000 if quick else 10_000, quiet=True)
    share = figures.run.in_db / figures.run.wall
    return [
        Row("pricing, one worker process, 25-line documents", f"{figures.per_s:,.0f} docs/s",
            ">= 3,000 docs/s", f"bare COPY {figures.floor_per_s:,.0f}/s",
            f"{figures.per_s / figures.floor_per_s:.2f}", figures.per_s >= 3_000),
        Row("  share of its time blocked on PostgreSQL", f"{share:.0%}"),
    ]  # fmt: skip


def ingest_rows(quick: bool) -> list[Row]:
    figures = ingest.measure(
        documents=5_000 if quick else 15_000, at_target=5_000 if quick else 12_000
    )
    closed, offered = figures.saturated, figures.at_target
    failed = sum(closed.failures.values()) + sum(offered.failures.values())
    return [
        Row("HTTP ingestion to commit, one document a request", f"{closed.rate:,.0f} docs/s",
            ">= 800 docs/s",
            f"lxml {figures.lxml_floor:,.0f}/s; COPY {figures.copy_floor:,.0f}/s",
            f"{closed.rate / figures.lxml_floor:.3f}; {closed.rate / figures.copy_floor:.2f}",
            closed.rate >= 800),
        Row(f"  p99 with 800 docs/s offered (answered {offered.rate:,.0f}/s)",
            f"{offered.p99 * 1000:,.0f} ms", "<= 50 ms", "", "",
            offered.p99 <= 0.050 and offered.rate >= 0.97 * ingest.TARGET_RATE),
        Row("  p99 of the closed loop", f"{closed.p99 * 1000:,.0f} ms"),
        Row("  failed requests", str(failed), "0", "", "", failed == 0),
    ]  # fmt: skip


def batch_rows(quick: bool) -> list[Row]:
    documents = 20_000 if quick else 100_000
    figures = batch.run(documents=documents)
    peak = max(figures.peak_mb.values(), default=0.0)
    priced = figures.priced_after_s
    return [
        Row(f"batch of {documents:,}: upload -> all stored", f"{figures.stored_per_s:,.0f} docs/s",
            ">= 5,000 docs/s",
            f"lxml {figures.floor_lxml_per_s:,.0f}/s; COPY {figures.floor_copy_per_s:,.0f}/s",
            f"{figures.stored_per_s / figures.floor_lxml_per_s:.2f}; "
            f"{figures.stored_per_s / figures.floor_copy_per_s:.2f}",
            figures.stored_per_s >= 5_000),
        Row("  peak memory of the largest gateway process", f"{peak:,.0f} MB", "<= 300 MB",
            "", "", peak <= 300),
        Row("  upload end -> all priced, two workers",
            "not within the time-out" if priced is None else f"{priced:,.1f} s", "<= 60 s",
            "", "", priced is not None and priced <= 60),
    ]  # fmt: skip


def micro_rows(quick: bool) -> list[Row]:
    return [
        Row(figure.name, f"{figure.seconds * 1e6:,.1f} us", f"<= {figure.target * 1e6:,.0f} us",
            "", "", figure.seconds <= figure.target)
        for figure in micro.measure()
    ]  # fmt: skip


BENCHMARKS: dict[str, Callable[[bool], list[Row]]] = {
    "micro": micro_rows,
    "validate": validation_rows,
    "pricing": pricing_rows,
    "ingest": ingest_rows,
    "batch": batch_rows,
}


def table(rows: list[Row]) -> str:
    header = Row("figure", "measured", "target", "floor (same run)", "ratio to floor")
    cells = [(*header.cells()[:-1], "target"), *(row.cells() for row in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header.cells()))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    rows: list[Row] = []
    began = time.perf_counter()
    for name in args.only:
        print(f"running {name}...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows += BENCHMARKS[name](args.quick)
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print()
    print(table(rows))
    met = [row.met for row in rows if row.met is not None]
    print(
        f"\n{sum(met)} of {len(met)} targets met; {time.perf_counter() - began:.0f} s in all; "
        "2-core machine, PostgreSQL, 25-line documents"
    )


if __name__ == "__main__":
    main()
