"""The SQL of pricing, a batch of documents at a time: a fixed number of set-based reads of
what the batch needs, and bulk writes of the results (COPY on PostgreSQL, executemany
elsewhere). Functions take a session and never commit: callers own that."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Executable, Row, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CodeType, Line, Purpose
from gateway.domain.lifecycle import NOT_LIVE, DocumentStatus
from gateway.domain.registry import CentreInfo
from gateway.domain.tariff import (
    Component,
    Grade,
    ItemKind,
    KCoefficient,
    PackageContent,
    PackagePrice,
    Setting,
    TariffBook,
    TariffItem,
)
from gateway.kit import bulk
from gateway.storage.models import (
    Centre,
    Document,
    DocumentLine,
    KCoefficientRow,
    LineDeduction,
    LinePricing,
    PackageContentRow,
    PackagePriceRow,
    Submission,
    TariffItemRow,
    TariffVersion,
)

# Ids per IN list: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 2000

# Core tables: these statements run on the connection, without the ORM's row processing.
DOCUMENTS: Table = cast(Table, Document.__table__)
LINES: Table = cast(Table, DocumentLine.__table__)
PRICINGS: Table = cast(Table, LinePricing.__table__)
DEDUCTIONS: Table = cast(Table, LineDeduction.__table__)
CENTRES: Table = cast(Table, Centre.__table__)
SUBMISSIONS: Table = cast(Table, Submission.__table__)

# Row layouts of the bulk writes, in column order.
PRICING_COLUMNS = (
    "line_id",
    "document_id",
    "tariff_version_id",
    "requested_amount",
    "tariff_unit_price",
    "eligible_amount",
    "deduction_amount",
    "copayment_amount",
    "insurer_amount",
    "basis",
    "terms",  # JSON text, as the JSON type would have written it
    "allowed_quantity",
    "copay_rate",
    "explanation",
    "copay_reason",
)
DEDUCTION_COLUMNS = ("line_id", "document_id", "reason", "amount", "detail")

# A bill holds the services it lists from its acceptance on until it is voided: every
# status but REJECTED (a document never accepted) and VOIDED (withdrawn by its centre, or
# replaced), as the submission check's `line.possible-duplicate` counts them
# (docs/pricing.md, "Duplicates").
NOT_HOLDING = sorted(status.value for status in NOT_LIVE)

_CODE_TYPES = {member.value: member for member in CodeType}
T = TypeVar("T")


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _rows(session: Session, query: Executable) -> Sequence[Row[*tuple[Any, ...]]]:
    return session.connection().execute(query).all()


@dataclass(frozen=True, slots=True)
class DocumentToPrice:
    """The columns of a document that pricing reads."""

    id: uuid.UUID
    centre_id: int
    kind: str
    external_id: str
    patient_national_id: str
    physician_grade: str | None
    referral_code: str | None
    package_code: str | None
    service_date: date
    admission_date: date | None
    discharge_date: date | None
    insurance_number: str
    purpose: str
    self_referred: bool
    emergency: bool
    submission_id: uuid.UUID
    ordinal: int
    received_at: datetime  # the submission's: the day it was filed

    @property
    def rank(self) -> tuple[datetime, uuid.UUID, int]:
        """Its place in the order of receipt, which decides which of two bills is earlier."""
        return (self.received_at, self.submission_id, self.ordinal)


_DOCUMENT_COLUMNS = (
    *(DOCUMENTS.c[name] for name in DocumentToPrice.__slots__[:-1]),
    SUBMISSIONS.c.received_at,
)


def lock_accepted(session: Session, ids: Collection[uuid.UUID]) -> list[DocumentToPrice]:
    """Those of the documents that await pricing, row-locked where the database can.

    Rows are locked in id order, so batches that overlap wait for each other instead of
    deadlocking; a document priced meanwhile by the batch waited for no longer matches.
    """
    found: list[DocumentToPrice] = []
    for chunk in _chunks(sorted(ids)):
        query = (
            select(*_DOCUMENT_COLUMNS)
            .join(SUBMISSIONS, SUBMISSIONS.c.id == DOCUMENTS.c.submission_id)
            .where(DOCUMENTS.c.id.in_(chunk), DOCUMENTS.c.status == DocumentStatus.ACCEPTED)
            .order_by(DOCUMENTS.c.id)
            .with_for_update(of=DOCUMENTS)
        )
        found += [DocumentToPrice(*tuple(row)) for row in _rows(session, query)]
    return found


def statuses(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The status of each of these documents that exists."""
    found: dict[uuid.UUID, str] = {}
    for chunk in _chunks(list(ids)):
        query = select(DOCUMENTS.c.id, DOCUMENTS.c.status).where(DOCUMENTS.c.id.in_(chunk))
        found.update((document_id, status) for document_id, status in _rows(session, query))
    return found


def centres(session: Session, ids: Collection[int]) -> dict[int, CentreInfo]:
    c = CENTRES.c
    query = select(
        c.id, c.code, c.name, c.kind, c.sector, c.province, c.contract_from, c.contract_to
    ).where(c.id.in_(list(ids)))
    return {
        row.id: CentreInfo(
            code=row.code,
            name=row.name,
            kind=CentreKind(row.kind),
            sector=Sector(row.sector),
            province=row.province,
            contract_from=row.contract_from,
            contract_to=row.contract_to,
        )
        for row in _rows(session, query)
    }


# A batch's lines, thousands of rows: on PostgreSQL as plain tuples from a prepared
# statement over an array (a Core statement renders an IN list of the batch's ids on every
# call, and its result rows cost more than the Line objects made of them).
LINES_SQL = (
    "SELECT document_id, id, code_type, code, quantity, unit_price, amount, service_date"
    " FROM document_lines WHERE document_id = ANY(%s::uuid[]) ORDER BY document_id, line_no"
)


def lines_of(
    session: Session, document_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[list[int], list[Line]]]:
    """Each document's line ids and lines, in line order."""
    found: dict[uuid.UUID, tuple[list[int], list[Line]]] = {}
    types = _CODE_TYPES
    raw = bulk.psycopg_connection(session)
    for chunk in _chunks(list(document_ids)):
        if raw is not None:
            rows: Iterable[Sequence[Any]] = raw.execute(
                LINES_SQL, [list(chunk)], prepare=True
            ).fetchall()
        else:
            rows = _rows(session, _lines_query(chunk))
        current: uuid.UUID | None = None
        ids: list[int] = []
        lines: list[Line] = []
        for document_id, line_id, code_type, code, quantity, unit_price, amount, day in rows:
            if document_id != current:
                current, ids, lines = document_id, [], []
                found[document_id] = (ids, lines)
            ids.append(line_id)
            lines.append(Line(types[code_type], code, quantity, unit_price, amount, day))
    return found


def _lines_query(chunk: Sequence[uuid.UUID]) -> Executable:
    return (
        select(
            LINES.c.document_id,
            LINES.c.id,
            LINES.c.code_type,
            LINES.c.code,
            LINES.c.quantity,
            LINES.c.unit_price,
            LINES.c.amount,
            LINES.c.service_date,
        )
        .where(LINES.c.document_id.in_(chunk))
        .order_by(LINES.c.document_id, LINES.c.line_no)
    )


@dataclass(frozen=True, slots=True)
class BilledLine:
    """A (code, date) that a live bill of the patient lists, and where that bill stands in
    the order of receipt."""

    code: str
    service_date: date
    rank: tuple[datetime, uuid.UUID, int]  # (received_at, submission_id, ordinal)
    document_id: uuid.UUID
    centre_id: int
    external_id: str


def billed_services(
    session: Session, wanted: Mapping[str, Collection[tuple[str, date]]]
) -> dict[str, list[BilledLine]]:
    """Of the (code, date) pairs wanted per patient, the lines of the patient's bills that
    list them: every bill accepted, priced or not, of any centre, and not voided since; an
    estimate bills nothing.
    What pricing made of those lines is not read, so the answer does not depend on which
    document was priced first."""
    found: dict[str, list[BilledLine]] = {}
    patients = [patient for patient, keys in wanted.items() if keys]
    raw = bulk.psycopg_connection(session)
    for chunk in _chunks(patients):
        keys = {key for patient in chunk for key in wanted[patient]}
        days, codes = list({day for _, day in keys}), list({code for code, _ in keys})
        if raw is not None:
            rows: Iterable[Sequence[Any]] = raw.execute(
                BILLED_SQL, [days, codes, list(chunk), NOT_HOLDING], prepare=True
            ).fetchall()
        else:
            rows = _rows(session, _billed_query(chunk, days, codes))
        for patient, code, day, received, submission, ordinal, document, centre, number in rows:
            if (code, day) in wanted[patient]:
                found.setdefault(patient, []).append(
                    BilledLine(code, day, (received, submission, ordinal), document, centre, number)
                )
    return found


# On PostgreSQL: the patients' bills by index, then each one's lines of the wanted days and
# codes (a lateral subquery kept a subquery, as the API's stored-services read: the plan
# stays a walk of the patients' own documents).
BILLED_SQL = (
    "SELECT d.patient_national_id, l.code, l.service_date, s.received_at, d.submission_id,"
    " d.ordinal, d.id, d.centre_id, d.external_id FROM documents d"
    " JOIN submissions s ON s.id = d.submission_id"
    " CROSS JOIN LATERAL (SELECT l.code, l.service_date FROM document_lines l"
    " WHERE l.document_id = d.id"
    " AND l.service_date = ANY(%s::date[]) AND l.code = ANY(%s::text[]) OFFSET 0) l"
    " WHERE d.patient_national_id = ANY(%s::text[]) AND d.status <> ALL(%s::text[])"
    " AND d.purpose = 'claim'"
)


def _billed_query(chunk: Sequence[str], days: list[date], codes: list[str]) -> Executable:
    return (
        select(
            DOCUMENTS.c.patient_national_id,
            LINES.c.code,
            LINES.c.service_date,
            SUBMISSIONS.c.received_at,
            DOCUMENTS.c.submission_id,
            DOCUMENTS.c.ordinal,
            DOCUMENTS.c.id,
            DOCUMENTS.c.centre_id,
            DOCUMENTS.c.external_id,
        )
        .join(DOCUMENTS, LINES.c.document_id == DOCUMENTS.c.id)
        .join(SUBMISSIONS, SUBMISSIONS.c.id == DOCUMENTS.c.submission_id)
        .where(
            DOCUMENTS.c.patient_national_id.in_(chunk),
            DOCUMENTS.c.status.not_in(NOT_HOLDING),
            DOCUMENTS.c.purpose == Purpose.CLAIM.value,
            LINES.c.service_date.in_(days),
            LINES.c.code.in_(codes),
        )
    )


def add_line_pricings(session: Session, rows: Iterable[Sequence[Any]]) -> int:
    """Insert line pricing rows laid out as ``PRICING_COLUMNS``."""
    return bulk.insert_rows(session, PRICINGS, PRICING_COLUMNS, rows, json_text=("terms",))


def add_line_deductions(session: Session, rows: Iterable[Sequence[Any]]) -> int:
    """Insert deduction rows laid out as ``DEDUCTION_COLUMNS``."""
    return bulk.insert_rows(session, DEDUCTIONS, DEDUCTION_COLUMNS, rows)


@dataclass(frozen=True, slots=True)
class PricedDocument:
    """What pricing sets on a document."""

    id: uuid.UUID
    status: str
    review_reason: str | None
    pricing_notes: list[str] | None
    tariff_version_id: int
    eligible_amount: int
    deduction_amount: int
    copayment_amount: int
    insurer_amount: int
    decided_at: datetime | None


def update_priced(session: Session, documents: Sequence[PricedDocument], at: datetime) -> None:
    if not documents:
        return
    columns = [name for name in PricedDocument.__slots__ if name != "id"]
    statement = (
        update(DOCUMENTS)
        .where(DOCUMENTS.c.id == bindparam("b_id"))
        .values(
            {name: bindparam(f"b_{name}") for name in columns} | {"priced_at": at, "updated_at": at}
        )
    )
    session.connection().execute(
        statement,
        [{"b_id": d.id, **{f"b_{name}": getattr(d, name) for name in columns}} for d in documents],
    )


# -- tariff versions (pricing reads a book; admin imports one) --------------------------


def latest_tariff_version(session: Session) -> int | None:
    return session.scalar(select(func.max(TariffVersion.id)))


def load_tariff_book(session: Session, version_id: int) -> TariffBook:
    version = session.get_one(TariffVersion, version_id)
    items = [
        TariffItem(
            code=row.code,
            title=row.title,
            kind=ItemKind(row.kind),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            professional_rvu=row.professional_rvu,
            technical_rvu=row.technical_rvu,
            anesthesia_rvu=row.anesthesia_rvu,
            unit_price=row.unit_price,
            covered=row.covered,
            max_quantity=row.max_quantity,
            referral_required=row.referral_required,
            setting=Setting(row.setting),
        )
        for row in session.scalars(
            select(TariffItemRow).where(TariffItemRow.version_id == version_id)
        )
    ]
    ks = [
        KCoefficient(
            Sector(row.sector),
            Component(row.component),
            row.value,
            row.valid_from,
            row.valid_to,
            Grade(row.grade) if row.grade else None,
        )
        for row in session.scalars(
            select(KCoefficientRow).where(KCoefficientRow.version_id == version_id)
        )
    ]
    prices = [
        PackagePrice(row.code, Sector(row.sector), row.price, row.valid_from, row.valid_to)
        for row in session.scalars(
            select(PackagePriceRow).where(PackagePriceRow.version_id == version_id)
        )
    ]
    contents = [
        PackageContent(row.package_code, row.item_code)
        for row in session.scalars(
            select(PackageContentRow).where(PackageContentRow.version_id == version_id)
        )
    ]
    return TariffBook.build(version_id, version.label, items, ks, prices, contents)


def add_tariff_version(session: Session, *, label: str, sha256: str, book: TariffBook) -> int:
    """Store a whole book as a new version; the caller commits it in one transaction."""
    items, ks = book.all_items(), book.all_ks()
    version = TariffVersion(label=label, sha256=sha256)
    session.add(version)
    session.flush()
    session.add_all(
        TariffItemRow(
            version_id=version.id,
            code=i.code,
            title=i.title,
            kind=i.kind.value,
            professional_rvu=i.professional_rvu,
            technical_rvu=i.technical_rvu,
            anesthesia_rvu=i.anesthesia_rvu,
            unit_price=i.unit_price,
            covered=i.covered,
            max_quantity=i.max_quantity,
            referral_required=i.referral_required,
            setting=i.setting.value,
            valid_from=i.valid_from,
            valid_to=i.valid_to,
        )
        for i in items
    )
    session.add_all(
        KCoefficientRow(
            version_id=version.id,
            sector=k.sector.value,
            component=k.component.value,
            grade=k.grade.value if k.grade else None,
            value=k.value,
            valid_from=k.valid_from,
            valid_to=k.valid_to,
        )
        for k in ks
    )
    session.add_all(
        PackagePriceRow(
            version_id=version.id,
            code=p.code,
            sector=p.sector.value,
            price=p.price,
            valid_from=p.valid_from,
            valid_to=p.valid_to,
        )
        for p in book.all_package_prices()
    )
    session.add_all(
        PackageContentRow(version_id=version.id, package_code=c.package_code, item_code=c.item_code)
        for c in book.all_package_contents()
    )
    return version.id


def tariff_version(session: Session, version_id: int) -> TariffVersion | None:
    return session.get(TariffVersion, version_id)


def tariff_versions(session: Session) -> list[TariffVersion]:
    return list(session.scalars(select(TariffVersion).order_by(TariffVersion.id)))
