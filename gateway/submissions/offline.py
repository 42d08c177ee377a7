"""Offline validation: the server's own schema and rule checks, run on local files.

Reference data comes from files when given (``--registry``, ``--tariff``); a check whose
data is missing is skipped, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import track

from gateway.domain.referrals import Rollout
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import TariffBook
from gateway.errors import GatewayError
from gateway.settings import get_settings, today
from gateway.submissions.service import apply_rules, parse_valid
from validators.context import RuleContext
from validators.problems import Problem, has_errors
from validators.schema import Format


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.valid,
            "documents": self.documents,
            "problems": [p.to_dict() for p in self.problems],
        }


def format_of_file(path: Path) -> Format:
    return Format.JSON if path.suffix.lower() == ".json" else Format.XML


def check_file(path: Path, reference: Reference | None = None) -> FileReport:
    """Every problem the API would report for this file, envelope and documents alike."""
    reference = reference or Reference()
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
        centre = None
        if reference.centres is not None:
            centre = reference.centres.get(submission.centre_code)
            if centre is None:
                raise GatewayError(
                    "Unknown centre.",
                    422,
                    [
                        Problem(
                            "centre.unknown",
                            f"Centre {submission.centre_code} is not in the registry.",
                            f"{submission.path}/header/centreCode",
                        )
                    ],
                )
        settings = get_settings()
        context = RuleContext(
            today=today(settings),
            centre=centre,
            coverages=reference.coverages,
            tariff=reference.tariff,
            submission_window_days=settings.submission_window_days,
            rollout=reference.rollout,
        )
        rules = apply_rules(submission, context, centre_code=None)
    except GatewayError as error:
        report.problems.extend(error.to_problems())
        return report
    for problems in rules.documents:
        report.problems.extend(problems)
    return report


def validate_files(
    files: list[Path], output: str = "text", reference: Reference | None = None
) -> int:
    """Print a report per file; the exit status is 1 when any file has an error."""
    reference = reference or Reference()
    progress = Console(stderr=True)
    many = len(files) > 1 or any(p.stat().st_size > 5_000_000 for p in files if p.exists())
    paths = (
        track(files, description="validating", console=progress, transient=True) if many else files
    )
    reports = [check_file(path, reference) for path in paths]
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
    if reference.skipped:
        progress.print("not checked: " + "; ".join(reference.skipped), style="dim")
    return 0 if all(r.valid for r in reports) else 1
