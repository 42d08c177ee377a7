"""The referral programme's reference data from CSV (format: schemas/registry/README.md):
family physicians, their patient lists and the rollout table. Read with every bad cell
reported; imported all or nothing, with the rest of the registry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from gateway.admin import repository as admin_store
from gateway.domain.referrals import CareLevel, RolloutEntry, RolloutScope
from gateway.kit.csvrows import RowReader, check_periods, csv_rows
from gateway.storage import repository
from gateway.storage.models import PatientListEntry, ReferralRolloutRow
from validators.problems import Problem
from validators.rules.patient import national_id_is_valid

PHYSICIANS_FILE = "family_physicians.csv"
LISTS_FILE = "patient_lists.csv"
ROLLOUT_FILE = "referral_rollout.csv"
PHYSICIAN_COLUMNS = ("medical_council_number", "full_name", "centre_code")
LIST_COLUMNS = ("national_id", "medical_council_number", "valid_from", "valid_to")
ROLLOUT_COLUMNS = ("province", "required_from", "levels", "scope")
_COUNCIL_NUMBER = re.compile(r"[A-Z]{0,2}[0-9]{2,8}")


@dataclass(frozen=True, slots=True)
class Physician:
    number: str
    full_name: str
    centre_code: str


@dataclass(frozen=True, slots=True)
class ListEntry:
    national_id: str
    physician: str
    valid_from: date
    valid_to: date | None


@dataclass(slots=True)
class Programme:
    physicians: dict[str, Physician] = field(default_factory=dict)
    lists: dict[str, list[ListEntry]] = field(default_factory=dict)
    rollout: list[RolloutEntry] | None = None


def _council_number(raw: str) -> str:
    if not _COUNCIL_NUMBER.fullmatch(raw):
        raise ValueError("a medical-council number is up to 2 capitals and 2 to 8 digits")
    return raw


def _national_id(raw: str) -> str:
    if not national_id_is_valid(raw):
        raise ValueError("not a national ID with a valid check digit")
    return raw


def _levels(raw: str) -> frozenset[CareLevel]:
    levels = frozenset(CareLevel(int(part)) for part in raw.split())
    if not levels or CareLevel.FAMILY_PHYSICIAN in levels:
        raise ValueError("levels are 2 and/or 3, separated by spaces")
    return levels


def parse_physicians(text: str, programme: Programme, problems: list[Problem]) -> None:
    rows = csv_rows(text, PHYSICIANS_FILE, PHYSICIAN_COLUMNS, problems, "registry")
    for line, row in rows:
        cells = RowReader(PHYSICIANS_FILE, line, row, problems, "registry")
        number = cells.get("medical_council_number", _council_number)
        name = cells.get("full_name", str)
        centre = cells.get("centre_code", str)
        if number in programme.physicians:
            cells.bad("medical_council_number", f"{number} appears twice")
        if cells.ok and number and name and centre:
            programme.physicians[number] = Physician(number, name, centre)


def parse_lists(text: str, programme: Programme, problems: list[Problem]) -> None:
    rows: list[ListEntry] = []
    for line, row in csv_rows(text, LISTS_FILE, LIST_COLUMNS, problems, "registry"):
        cells = RowReader(LISTS_FILE, line, row, problems, "registry")
        national_id = cells.get("national_id", _national_id)
        physician = cells.get("medical_council_number", _council_number)
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        if cells.ok and national_id and physician and valid_from:
            rows.append(ListEntry(national_id, physician, valid_from, valid_to))
    # A person is on one family physician's list at a time.
    check_periods(rows, lambda e: e.national_id, LISTS_FILE, "person", problems, "registry")
    for entry in rows:
        programme.lists.setdefault(entry.national_id, []).append(entry)


def parse_rollout(text: str, programme: Programme, problems: list[Problem]) -> None:
    entries: dict[str, RolloutEntry] = {}
    for line, row in csv_rows(text, ROLLOUT_FILE, ROLLOUT_COLUMNS, problems, "registry"):
        cells = RowReader(ROLLOUT_FILE, line, row, problems, "registry")
        province = cells.get("province", str)
        starts = cells.get("required_from", date.fromisoformat)
        levels = cells.get("levels", _levels)
        scope = cells.get("scope", RolloutScope)
        if province in entries:
            cells.bad("province", f"{province} appears twice")
        if cells.ok and province and starts and levels and scope:
            entries[province] = RolloutEntry(province, starts, levels, scope)
    programme.rollout = list(entries.values())


def check_references(
    session: Session, programme: Programme, centre_codes: set[str], problems: list[Problem]
) -> None:
    """Every physician's centre and every list's physician must exist (in the files being
    imported or already in the database)."""
    for physician in programme.physicians.values():
        code = physician.centre_code
        if code not in centre_codes and repository.get_centre_by_code(session, code) is None:
            problems.append(
                Problem(
                    "registry.unknown-centre",
                    f"physician {physician.number}: no centre {code}",
                    f"{PHYSICIANS_FILE}:centre_code",
                )
            )
    named = {e.physician for entries in programme.lists.values() for e in entries}
    unknown = named - set(programme.physicians)
    if unknown:
        known = admin_store.known_physicians(session, unknown)
        for number in sorted(unknown - known):
            problems.append(
                Problem(
                    "registry.unknown-physician",
                    f"no family physician {number}",
                    f"{LISTS_FILE}:medical_council_number",
                )
            )


def store(session: Session, programme: Programme) -> None:
    """Upsert physicians; replace the list periods of every person named; replace the
    whole rollout table when the file was given (it is small, and read as a whole)."""
    for physician in programme.physicians.values():
        centre = repository.get_centre_by_code(session, physician.centre_code)
        assert centre is not None  # check_references and the centres' import saw to it
        admin_store.put_physician(session, physician.number, physician.full_name, centre.id)
    admin_store.replace_list_entries(
        session,
        list(programme.lists),
        [
            PatientListEntry(
                national_id=e.national_id,
                physician_number=e.physician,
                valid_from=e.valid_from,
                valid_to=e.valid_to,
            )
            for entries in programme.lists.values()
            for e in entries
        ],
    )
    if programme.rollout is not None:
        admin_store.replace_rollout(
            session,
            [
                ReferralRolloutRow(
                    province=e.province,
                    required_from=e.required_from,
                    levels=" ".join(str(int(lv)) for lv in sorted(e.levels)),
                    scope=e.scope.value,
                )
                for e in programme.rollout
            ],
        )
