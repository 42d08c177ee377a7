"""The per-document acknowledgement of a batch, written as it is read (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

CSV_COLUMNS = (
    "ordinal", "document_number", "kind", "document_id", "status", "outcome",
    "severity", "code", "message", "path", "line",
)  # fmt: skip
Row = tuple[int, str | None, str | None, Any, str, str, Any]


def outcome(status: str, problems: list[dict[str, Any]]) -> str:
    """As for single submissions: ACCEPTED, ACCEPTED_WITH_WARNINGS or REJECTED."""
    if status == "REJECTED":
        return "REJECTED"
    return "ACCEPTED_WITH_WARNINGS" if problems else "ACCEPTED"


def entry(row: Row) -> dict[str, Any]:
    ordinal, number, kind, document_id, status, path, problems = row
    problems = problems or []
    return {
        "ordinal": ordinal,
        "document_number": number,
        "kind": kind,
        "document_id": None if document_id is None else str(document_id),
        "status": status,
        "outcome": outcome(status, problems),
        "path": path,
        "problems": problems,
    }


def json_chunks(head: dict[str, Any], rows: Iterable[Row], every: int = 500) -> Iterator[bytes]:
    """``{"batch": head, "documents": [...]}`` in pieces of ``every`` documents."""
    yield b'{"batch":' + orjson.dumps(head) + b',"documents":['
    parts: list[bytes] = []
    first = True
    for row in rows:
        parts.append(orjson.dumps(entry(row)))
        if len(parts) >= every:
            yield (b"" if first else b",") + b",".join(parts)
            first, parts = False, []
    if parts:
        yield (b"" if first else b",") + b",".join(parts)
    yield b"]}"


def csv_chunks(rows: Iterable[Row], every: int = 500) -> Iterator[bytes]:
    """One line per problem (a document without problems: one line without one)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, start=1):
        item = entry(row)
        base = [item[c] for c in CSV_COLUMNS[:6]]
        for problem in item["problems"] or [{}]:
            out.writerow(
                base + [problem.get(c) for c in ("severity", "code", "message", "path", "line")]
            )
        if count % every == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
