"""Offline validation: the server's own schema and rule checks, run on local files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from gateway.errors import GatewayError
from gateway.ingest import apply_rules, parse_valid
from validators.problems import Problem, has_errors
from validators.schema import Format


@dataclass(slots=True)
class FileReport:
    path: Path
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not has_errors(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.valid,
            "documents": self.documents,
            "problems": [p.to_dict() for p in self.problems],
        }


def format_of_file(path: Path) -> Format:
    return Format.JSON if path.suffix.lower() == ".json" else Format.XML


def check_file(path: Path) -> FileReport:
    """Every problem the API would report for this file, envelope and documents alike."""
    report = FileReport(path)
    try:
        body = path.read_bytes()
    except OSError as exc:
        report.problems.append(Problem("file.unreadable", str(exc)))
        return report
    if not body.strip():
        report.problems.append(Problem("body.empty", "The body is empty."))
        return report
    try:
        submission = parse_valid(body, format_of_file(path))
        report.documents = len(submission.documents)
        rules = apply_rules(submission, centre_code=None, accepted=set())
    except GatewayError as error:
        report.problems.extend(error.to_problems())
        return report
    for problems in rules.documents:
        report.problems.extend(problems)
    return report


def validate_files(files: list[Path], output: str = "text") -> int:
    """Print a report per file; the exit status is 1 when any file has an error."""
    reports = [check_file(path) for path in files]
    if output == "json":
        print(orjson.dumps([r.to_dict() for r in reports], option=orjson.OPT_INDENT_2).decode())
    else:
        console = Console(highlight=False, soft_wrap=True)
        for report in reports:
            mark = "[green]valid[/green]" if report.valid else "[red]invalid[/red]"
            console.print(f"{report.path}: {mark} ({report.documents} document(s))")
            for p in report.problems:
                where = f" {p.path}" if p.path else ""
                line = f" line {p.line}" if p.line else ""
                console.print(f"  {p.severity} {p.code}{where}{line}: {p.message}")
    return 0 if all(r.valid for r in reports) else 1
