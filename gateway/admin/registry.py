"""Reference data from CSV (format: schemas/registry/README.md): insured persons' coverage,
centres, supplementary policies and the referral programme's files
(gateway.admin.programme). Read with every bad cell reported; imported all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.admin import programme as referral_programme
from gateway.admin import repository as queries
from gateway.domain.centres import CentreKind, Sector
from gateway.domain.registry import CentreInfo, Coverage, SupplementaryTerms
from gateway.errors import GatewayError
from gateway.kit.csvrows import RowReader, check_periods, csv_rows
from gateway.storage import repository
from gateway.storage.models import Centre
from validators.problems import Problem
from validators.rules.patient import national_id_is_valid

INSURED_FILE = "insured.csv"
CENTRES_FILE = "centres.csv"
SUPPLEMENTARY_FILE = "supplementary.csv"
INSURED_COLUMNS = ("national_id", "insurance_number", "valid_from", "valid_to")
CENTRE_COLUMNS = (
    "code", "name", "kind", "sector", "province", "contract_from", "contract_to",
)  # fmt: skip
SUPPLEMENTARY_COLUMNS = (
    "national_id", "insurer_code", "insurer_name", "policy_number", "priority",
    "valid_from", "valid_to", "copay_share", "uncovered_share", "annual_ceiling",
)  # fmt: skip
SAMPLE_REGISTRY_DIR = Path(__file__).resolve().parents[2] / "schemas" / "registry" / "sample"


@dataclass(slots=True)
class Registry:
    coverages: dict[str, list[Coverage]] = field(default_factory=dict)
    centres: dict[str, CentreInfo] = field(default_factory=dict)
    policies: dict[str, list[SupplementaryTerms]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    programme: referral_programme.Programme = field(default_factory=referral_programme.Programme)


def _national_id(raw: str) -> str:
    if not national_id_is_valid(raw):
        raise ValueError("not a national ID with a valid check digit")
    return raw


def _insurance_number(raw: str) -> str:
    if not (raw.isdigit() and 6 <= len(raw) <= 16):
        raise ValueError("6 to 16 digits expected")
    return raw


def parse_insured(text: str, registry: Registry) -> None:
    rows: list[Coverage] = []
    for line, row in csv_rows(text, INSURED_FILE, INSURED_COLUMNS, registry.problems, "registry"):
        cells = RowReader(INSURED_FILE, line, row, registry.problems, "registry")
        national_id = cells.get("national_id", _national_id)
        number = cells.get("insurance_number", _insurance_number)
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        if cells.ok and national_id and number and valid_from:
            rows.append(Coverage(national_id, number, valid_from, valid_to))
    check_periods(
        rows, lambda c: c.national_id, INSURED_FILE, "person", registry.problems, "registry"
    )
    for coverage in rows:
        registry.coverages.setdefault(coverage.national_id, []).append(coverage)


def parse_centres(text: str, registry: Registry) -> None:
    for line, row in csv_rows(text, CENTRES_FILE, CENTRE_COLUMNS, registry.problems, "registry"):
        cells = RowReader(CENTRES_FILE, line, row, registry.problems, "registry")
        code = cells.get("code", str)
        name = cells.get("name", str)
        kind = cells.get("kind", CentreKind)
        sector = cells.get("sector", Sector)
        province = cells.get("province", str, required=False)
        starts = cells.get("contract_from", date.fromisoformat, required=False)
        ends = cells.get("contract_to", date.fromisoformat, required=False)
        if starts and ends and ends < starts:
            cells.bad("contract_to", "is before contract_from")
        if code in registry.centres:
            cells.bad("code", f"{code} appears twice")
        if cells.ok and code and name and kind and sector:
            registry.centres[code] = CentreInfo(code, name, kind, sector, province, starts, ends)


def _share(raw: str) -> Decimal:
    share = Decimal(raw)
    if not Decimal(0) <= share <= Decimal(1):
        raise ValueError("a share from 0 to 1 expected")
    return share


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("a whole number from 1 expected")
    return value


def _rials(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("whole rials, not negative, expected")
    return value


def parse_supplementary(text: str, registry: Registry) -> None:
    rows: list[SupplementaryTerms] = []
    file, columns = SUPPLEMENTARY_FILE, SUPPLEMENTARY_COLUMNS
    for line, row in csv_rows(text, file, columns, registry.problems, "registry"):
        cells = RowReader(file, line, row, registry.problems, "registry")
        national_id = cells.get("national_id", _national_id)
        insurer = cells.get("insurer_code", str)
        name = cells.get("insurer_name", str)
        number = cells.get("policy_number", str)
        priority = cells.get("priority", _positive)
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        copay = cells.get("copay_share", _share)
        uncovered = cells.get("uncovered_share", _share)
        ceiling = cells.get("annual_ceiling", _rials, required=False)
        if not (cells.ok and national_id and insurer and name and number and valid_from):
            continue
        if priority is None or copay is None or uncovered is None:
            continue
        rows.append(
            SupplementaryTerms(
                national_id,
                insurer,
                name,
                number,
                priority,
                valid_from,
                valid_to,
                copay,
                uncovered,
                ceiling,
            )
        )
    # Two policies of a person in force together must say which pays first.
    check_periods(
        rows, lambda p: (p.national_id, p.priority), file, "person and priority",
        registry.problems, "registry",
    )  # fmt: skip
    for policy in rows:
        registry.policies.setdefault(policy.national_id, []).append(policy)


PARSERS = (
    (INSURED_FILE, parse_insured),
    (CENTRES_FILE, parse_centres),
    (SUPPLEMENTARY_FILE, parse_supplementary),
)


def read_registry(directory: Path) -> Registry:
    """Whichever of insured.csv, centres.csv and supplementary.csv the folder holds (one at
    least)."""
    registry = Registry()
    for name, parse in PARSERS:
        path = directory / name
        if path.is_file():
            registry.files.append(name)
            parse(path.read_text(encoding="utf-8-sig"), registry)
    for name, read in (
        (referral_programme.PHYSICIANS_FILE, referral_programme.parse_physicians),
        (referral_programme.LISTS_FILE, referral_programme.parse_lists),
        (referral_programme.ROLLOUT_FILE, referral_programme.parse_rollout),
    ):
        path = directory / name
        if path.is_file():
            registry.files.append(name)
            read(path.read_text(encoding="utf-8-sig"), registry.programme, registry.problems)
    if not registry.files:
        registry.problems.append(
            Problem(
                "registry.missing-file",
                f"none of {INSURED_FILE}, {CENTRES_FILE}, {SUPPLEMENTARY_FILE}, "
                f"{referral_programme.PHYSICIANS_FILE}, {referral_programme.LISTS_FILE} or "
                f"{referral_programme.ROLLOUT_FILE} found",
                str(directory),
            )
        )
    return registry


def import_registry(*, session: Session, directory: Path) -> tuple[int, int]:
    """Upsert centres by code and replace the coverage and the supplementary policies of
    every person in the files. Returns (people, centres); GatewayError(422) lists every
    problem and changes nothing."""
    registry = read_registry(directory)
    referral_programme.check_references(
        session, registry.programme, set(registry.centres), registry.problems
    )
    if registry.problems:
        raise GatewayError(f"The registry in {directory} has problems.", 422, registry.problems)
    queries.replace_coverages(session, registry.coverages)
    queries.replace_policies(session, registry.policies)
    for info in registry.centres.values():
        centre = repository.get_centre_by_code(session, info.code) or Centre(code=info.code)
        centre.name, centre.kind, centre.sector = info.name, info.kind.value, info.sector.value
        centre.province = info.province
        centre.contract_from, centre.contract_to = info.contract_from, info.contract_to
        session.add(centre)
    session.flush()
    referral_programme.store(session, registry.programme)
    session.flush()
    return len(registry.coverages), len(registry.centres)
