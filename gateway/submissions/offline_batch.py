"""Offline validation of a batch file, document by document, as POST /v1/batches judges it.

The file is read by the batch endpoint's own streaming readers (``gateway.batches.reading``)
in constant memory; each document is checked by the schema and then by the business rules
as a one-document submission, and documents repeated within the file are caught as the
batch catches them. The report counts every document and lists each one with problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress

from gateway.batches.reading import EnvelopeError, count_items, header_centre, read_items
from gateway.domain import documents as dm
from gateway.settings import get_settings, today
from gateway.submissions.offline import Reference, format_of_file
from validators.business import validate_submission
from validators.context import RuleContext
from validators.problems import Problem, has_errors
from validators.schema import Format

# Called after each document with (documents checked, documents in the file).
OnProgress = Callable[[int, int], None]


@dataclass(slots=True)
class DocumentResult:
    ordinal: int
    path: str
    number: str | None
    problems: list[Problem]

    @property
    def valid(self) -> bool:
        return not has_errors(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ordinal": self.ordinal,
            "path": self.path,
            "document_number": self.number,
            "valid": self.valid,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(slots=True)
class BatchReport:
    path: Path
    documents: int = 0
    valid_documents: int = 0
    envelope: list[Problem] = field(default_factory=list)
    results: list[DocumentResult] = field(default_factory=list)  # documents with problems

    @property
    def invalid_documents(self) -> int:
        return self.documents - self.valid_documents

    @property
    def valid(self) -> bool:
        return not self.envelope and self.invalid_documents == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.valid,
            "documents": self.documents,
            "valid_documents": self.valid_documents,
            "invalid_documents": self.invalid_documents,
            "envelope_problems": [p.to_dict() for p in self.envelope],
            "documents_with_problems": [r.to_dict() for r in self.results],
        }


def check_batch(
    path: Path, reference: Reference | None = None, on_progress: OnProgress | None = None
) -> BatchReport:
    """Every document of a batch file judged as the batch endpoint would judge it."""
    reference = reference or Reference()
    fmt = format_of_file(path)
    report = BatchReport(path)
    try:
        total = count_items(path, fmt)
        # Grown as documents pass, as the batch grows them: a repeat within the file fails.
        numbers: set[str] = set()
        services: set[tuple[str, str, date]] = set()
        context = _context(reference, path, fmt, numbers, services)
        for item in read_items(path, fmt, centre_code=None):
            problems = item.problems
            if item.document is not None:
                problems = _judge(item.document, context)
                if not has_errors(problems):
                    numbers.add(item.document.duplicate_key)
                    patient = item.document.patient.national_id
                    services.update(
                        (patient, ln.code, ln.service_date) for ln in item.document.lines
                    )
            report.documents += 1
            report.valid_documents += not has_errors(problems) and item.document is not None
            if problems:
                report.results.append(
                    DocumentResult(item.ordinal, item.path, item.number, problems)
                )
            if on_progress is not None:
                on_progress(report.documents, max(total, report.documents))
    except EnvelopeError as error:
        report.envelope = error.problems
    except OSError as exc:
        report.envelope = [Problem("file.unreadable", str(exc))]
    return report


def _context(
    reference: Reference,
    path: Path,
    fmt: Format,
    numbers: set[str],
    services: set[tuple[str, str, date]],
) -> RuleContext:
    settings = get_settings()
    centre = None
    if reference.centres is not None:
        code = header_centre(path, fmt)
        centre = reference.centres.get(code or "")
        if centre is None:
            where = "/submission/header/centreCode" if fmt is Format.XML else "/header/centreCode"
            message = f"Centre {code} is not in the registry."
            raise EnvelopeError([Problem("centre.unknown", message, where)])
    return RuleContext(
        today=today(settings),
        centre=centre,
        coverages=reference.coverages,
        tariff=reference.tariff,
        accepted_numbers=numbers,
        stored_services=services,
        submission_window_days=settings.submission_window_days,
        rollout=reference.rollout,
    )


def _judge(document: dm.Document, context: RuleContext) -> list[Problem]:
    code = context.centre.code if context.centre else ""
    alone = dm.Submission(code, datetime.now(UTC), [document])
    return validate_submission(alone, context, centre_code=None).documents[0]


def validate_batch(path: Path, output: str = "text", reference: Reference | None = None) -> int:
    """Print the batch report (a bar moves per document on the terminal); 1 when any
    document, or the envelope, has an error."""
    reference = reference or Reference()
    errors = Console(stderr=True)
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task(f"validating {path.name}", total=None)

        def moved(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = check_batch(path, reference, moved)
    if output == "json":
        print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print(report)
    if reference.skipped:
        errors.print("not checked: " + "; ".join(reference.skipped), style="dim")
    return 0 if report.valid else 1


def _print(report: BatchReport) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if report.envelope:
        console.print(f"{report.path}: [red]refused as a whole[/red] (the batch would fail)")
        for p in report.envelope:
            console.print(f"  {p.severity} {p.code} {p.path or ''}: {p.message}")
        return
    mark = "[green]valid[/green]" if report.valid else "[red]invalid[/red]"
    console.print(
        f"{report.path}: {mark}: {report.documents:,} document(s), "
        f"{report.valid_documents:,} valid, {report.invalid_documents:,} invalid"
    )
    for result in report.results:
        label = f"#{result.ordinal + 1} {result.number or '(no number)'} {result.path}"
        console.print(f"  {label}: {'valid' if result.valid else '[red]invalid[/red]'}")
        for p in result.problems:
            where = f" {p.path}" if p.path else ""
            line = f" line {p.line}" if p.line else ""
            console.print(f"    {p.severity} {p.code}{where}{line}: {p.message}")
