"""Reading CSV files of reference data with a problem for every bad cell, and no partial
results: callers load a file only when it has no problems at all."""

from __future__ import annotations

import csv
import io
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from validators.problems import Problem

T = TypeVar("T")


class RowReader:
    """Converts one CSV row's cells, noting a problem per bad cell."""

    def __init__(
        self,
        file: str,
        line: int,
        row: dict[str, str],
        problems: list[Problem],
        prefix: str = "tariff",
    ) -> None:
        self.file, self.line, self.row, self.problems = file, line, row, problems
        self.prefix = prefix
        self.ok = True

    def bad(self, column: str, message: str) -> None:
        self.ok = False
        self.problems.append(
            Problem(
                f"{self.prefix}.invalid-value",
                f"{column}: {message}",
                f"{self.file}:{column}",
                self.line,
            )
        )

    def get(self, column: str, convert: Callable[[str], T], *, required: bool = True) -> T | None:
        raw = (self.row.get(column) or "").strip()
        if not raw:
            if required:
                self.bad(column, "is required")
            return None
        try:
            return convert(raw)
        except (ValueError, InvalidOperation) as exc:
            self.bad(column, f"{raw!r} is not valid ({exc})")
            return None

    def non_negative(self, column: str, value: Decimal | int | None) -> None:
        if value is not None and value < 0:
            self.bad(column, f"must not be negative, got {value}")


def boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError("expected true or false")


def csv_rows(
    text: str,
    file: str,
    columns: tuple[str, ...],
    problems: list[Problem],
    prefix: str = "tariff",
) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        message = f"missing column(s): {', '.join(missing)}"
        problems.append(Problem(f"{prefix}.missing-column", message, file, 1))
        return
    for row in reader:
        yield reader.line_num, row


def check_periods(
    rows: list[T],
    key: Callable[[T], Any],
    file: str,
    what: str,
    problems: list[Problem],
    prefix: str = "tariff",
) -> None:
    groups: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    for group_key, members in groups.items():
        members.sort(key=lambda r: r.valid_from)
        for row in members:
            if row.valid_to is not None and row.valid_to < row.valid_from:
                message = f"{what} {group_key}: valid_to {row.valid_to} is before valid_from"
                problems.append(Problem(f"{prefix}.bad-period", message, file))
        for earlier, later in itertools.pairwise(members):
            if earlier.valid_to is None or later.valid_from <= earlier.valid_to:
                message = (
                    f"{what} {group_key}: periods from {earlier.valid_from} and "
                    f"{later.valid_from} overlap"
                )
                problems.append(Problem(f"{prefix}.overlapping-periods", message, file))
