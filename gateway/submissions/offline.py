"""Offline validation: the server's own schema and rule checks, run on local files.

Reference data comes from files when given (``--registry``, ``--tariff``); a check whose
data is missing is skipped, and the report says so. The API's limits on one submission
(``GATEWAY_MAX_BODY_BYTES``, ``GATEWAY_MAX_DOCUMENTS_PER_SUBMISSION``) apply too: a file
over them is reported as the API would refuse it, with the way to send it instead
(``--batch``; see ``offline_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import track

from gateway.domain import documents as dm
from gateway.domain.referrals import Rollout
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import TariffBook
from gateway.errors import GatewayError
from gateway.settings import Settings, get_settings, today
from gateway.submissions.service import apply_rules
from validators.business import Report
from validators.context import RuleContext
from validators.problems import Problem, has_errors
from validators.reader import read_result
from validators.schema import NAMESPACE, Format, SchemaResult, claim_schema

# Problems meaning "this file is too big for one submission": the report says to use --batch.
OVER_LIMITS = frozenset({"body.too-large", "submission.too-many-documents"})
BATCH_HINT = (
    "over the API's limits for one submission: check it document by document with "
    "`gateway validate --batch FILE` and send it with `gateway submit --batch FILE` "
    "(POST /v1/batches)"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What POST /v1/submissions accepts in one body."""

    max_body_bytes: int
    max_documents: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_body_bytes, settings.max_documents_per_submission)


@dataclass(slots=True)
class Reference:
    coverages: dict[str, list[Coverage]] | None = None
    centres: dict[str, CentreInfo] | None = None
    tariff: TariffBook | None = None
    rollout: Rollout | None = None

    @property
    def skipped(self) -> list[str]:
        notes = []
        if self.coverages is None:
            notes.append("eligibility (no --registry insured.csv)")
        if self.centres is None:
            notes.append("centre contract and referral (no --registry centres.csv)")
        elif self.rollout is None:
            notes.append("referral (no --registry referral_rollout.csv)")
        if self.tariff is None:
            notes.append("tariff codes and referral (no --tariff)")
        return notes


def load_reference(registry: Path | None, tariff: Path | None) -> Reference:
    from gateway.admin.registry import CENTRES_FILE, INSURED_FILE, read_registry
    from gateway.pricing.tariff_csv import read_book

    reference = Reference()
    if registry is not None:
        loaded = read_registry(registry)
        if loaded.problems:
            raise GatewayError(f"The registry in {registry} has problems.", 2, loaded.problems)
        reference.coverages = loaded.coverages if INSURED_FILE in loaded.files else None
        reference.centres = loaded.centres if CENTRES_FILE in loaded.files else None
        reference.rollout = (
            Rollout.of(loaded.programme.rollout) if loaded.programme.rollout is not None else None
        )
    if tariff is not None:
        book = read_book(tariff)
        if book.problems:
            raise GatewayError(f"The tariff in {tariff} has problems.", 2, book.problems)
        reference.tariff = book.to_book(0, tariff.name)
    return reference


@dataclass(slots=True)
class FileReport:
    path: Path
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not has_errors(self.problems)

    @property
    def over_limits(self) -> bool:
        return any(p.code in OVER_LIMITS for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.valid,
            "documents": self.documents,
            "problems": [p.to_dict() for p in self.problems],
        }


def format_of_file(path: Path) -> Format:
    return Format.JSON if path.suffix.lower() == ".json" else Format.XML


def count_documents(path: Path, fmt: Format) -> int:
    """How many documents the file holds, read as a stream (0 when it cannot be read)."""
    from gateway.batches.reading import EnvelopeError, count_items

    try:
        return count_items(path, fmt)
    except (OSError, EnvelopeError):
        return 0


def _documents_in(result: SchemaResult) -> int:
    """The number of documents of a parsed body, valid or not."""
    if isinstance(result.source, dict):
        documents = result.source.get("documents")
        return len(documents) if isinstance(documents, list) else 0
    root = result.tree
    wrapper = None if root is None else root.find("{" + NAMESPACE + "}documents")
    return 0 if wrapper is None else len(wrapper)


def _too_many(count: int, limit: int, fmt: Format) -> Problem:
    path = "/submission/documents" if fmt is Format.XML else "/documents"
    return Problem(
        "submission.too-many-documents",
        f"{count} documents in one submission; at most {limit} are accepted here "
        "(send monthly batches to /v1/batches).",
        path,
    )


def check_file(
    path: Path, reference: Reference | None = None, limits: Limits | None = None
) -> FileReport:
    """Every problem the API would report for this file, envelope and documents alike."""
    reference = reference or Reference()
    limits = limits or Limits.from_settings(get_settings())
    report = FileReport(path)
    fmt = format_of_file(path)
    body = _body_within_limits(report, fmt, limits)
    if body is None:
        return report
    result = claim_schema().check(body, fmt)
    report.documents = _documents_in(result)
    if not result.ok:
        report.problems.extend(result.problems)
        if report.documents > limits.max_documents:
            report.problems.append(_too_many(report.documents, limits.max_documents, fmt))
        return report
    try:
        rules = _rules(read_result(result), reference, limits)
    except GatewayError as error:
        report.problems.extend(error.to_problems())
        return report
    for problems in rules.documents:
        report.problems.extend(problems)
    return report


def _body_within_limits(report: FileReport, fmt: Format, limits: Limits) -> bytes | None:
    """The file's bytes, or None with the problem noted (unreadable, empty, too large)."""
    try:
        size = report.path.stat().st_size
        if size > limits.max_body_bytes:
            # The API reads no further (413); counting tells how far over the file is.
            report.documents = count_documents(report.path, fmt)
            message = (
                f"The file is {size:,} bytes; the API accepts at most "
                f"{limits.max_body_bytes:,} bytes in one submission (413)."
            )
            report.problems.append(Problem("body.too-large", message))
            return None
        body = report.path.read_bytes()
    except OSError as exc:
        report.problems.append(Problem("file.unreadable", str(exc)))
        return None
    if not body.strip():
        report.problems.append(Problem("body.empty", "The body is empty."))
        return None
    return body


def _rules(submission: dm.Submission, reference: Reference, limits: Limits) -> Report:
    """The business rules on a schema-valid submission; GatewayError for the envelope."""
    centre = None
    if reference.centres is not None:
        centre = reference.centres.get(submission.centre_code)
        if centre is None:
            problem = Problem(
                "centre.unknown",
                f"Centre {submission.centre_code} is not in the registry.",
                f"{submission.path}/header/centreCode",
            )
            raise GatewayError("Unknown centre.", 422, [problem])
    settings = get_settings()
    context = RuleContext(
        today=today(settings),
        centre=centre,
        coverages=reference.coverages,
        tariff=reference.tariff,
        submission_window_days=settings.submission_window_days,
        rollout=reference.rollout,
    )
    return apply_rules(submission, context, centre_code=None, max_documents=limits.max_documents)


def validate_files(
    files: list[Path], output: str = "text", reference: Reference | None = None
) -> int:
    """Print a report per file; the exit status is 1 when any file has an error."""
    reference = reference or Reference()
    limits = Limits.from_settings(get_settings())
    progress = Console(stderr=True)
    paths = (
        track(files, description="validating", console=progress, transient=True)
        if len(files) > 1
        else files
    )
    reports = [check_file(path, reference, limits) for path in paths]
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
            if report.over_limits:
                console.print(f"  hint: {BATCH_HINT}")
    if reference.skipped:
        progress.print("not checked: " + "; ".join(reference.skipped), style="dim")
    return 0 if all(r.valid for r in reports) else 1
