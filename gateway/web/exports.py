"""The review queue as a spreadsheet: CSV (UTF-8 with a byte-order mark) and XLSX.

Identifiers (national IDs, document and insurance numbers) must stay text: a spreadsheet
program opening a CSV reads ``0012345678`` as the number 12345678. A leading apostrophe
only marks text when typed into a cell, opening a CSV shows it; Excel and LibreOffice both
evaluate ``="0012345678"``, a formula whose value is that text, so the CSV writes
identifiers that way (the quoted string is inert: a formula returning a literal). Any
other cell that starts like a formula (= + - @) is prefixed with an apostrophe so it is
never evaluated. The XLSX has real text cells and needs neither trick.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import Cell

from gateway.assignment.repository import QueueRow
from gateway.web.i18n import Locale
from gateway.web.messages import N_

BOM = "\ufeff"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    kind: str  # id (text that looks like a number), text, amount, count, day


COLUMNS = (
    Column(N_("field.document_number"), "id"),
    Column(N_("field.centre"), "text"),
    Column(N_("field.kind"), "text"),
    Column(N_("field.status"), "text"),
    Column(N_("field.service_date"), "day"),
    Column(N_("field.received_at"), "day"),
    Column(N_("queue.age_days"), "count"),
    Column(N_("field.national_id"), "id"),
    Column(N_("field.insurance_number"), "id"),
    Column(N_("amount.requested"), "amount"),
    Column(N_("amount.eligible"), "amount"),
    Column(N_("amount.deducted"), "amount"),
    Column(N_("amount.insurer"), "amount"),
    Column(N_("queue.holder"), "text"),
    Column(N_("queue.appealed"), "text"),
)


def _values(row: QueueRow, locale: Locale, today: date) -> list[object]:
    d = row.document
    return [
        d.external_id,
        row.centre_code,
        locale.kind(d.kind),
        locale.status(d.status),
        d.service_date,
        d.created_at.date(),
        max(0, (today - d.created_at.date()).days),
        d.patient_national_id,
        d.insurance_number,
        d.requested_amount,
        d.eligible_amount,
        d.deduction_amount,
        d.insurer_amount,
        row.holder_name or "",
        locale.plain("common.yes") if row.appealed else "",
    ]


def _csv_cell(value: object, column: Column) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    text = str(value)
    if column.kind == "id":
        return '="' + text.replace('"', '""') + '"'
    if column.kind == "text" and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def queue_csv(rows: Sequence[QueueRow], locale: Locale, today: date) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([locale.plain(c.key) for c in COLUMNS])
    for row in rows:
        values = _values(row, locale, today)
        writer.writerow([_csv_cell(v, c) for v, c in zip(values, COLUMNS, strict=True)])
    return out.getvalue().encode("utf-8")


def queue_xlsx(rows: Sequence[QueueRow], locale: Locale, today: date) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = locale.plain("queue.title")[:31]
    sheet.sheet_view.rightToLeft = locale.rtl
    sheet.append([locale.plain(c.key) for c in COLUMNS])
    for row in rows:
        sheet.append(_values(row, locale, today))
    for column, cells in zip(COLUMNS, sheet.iter_cols(min_row=2), strict=False):
        for cell in cells:
            if isinstance(cell, Cell):
                _format(cell, column)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _format(cell: Cell, column: Column) -> None:
    if column.kind == "id":
        cell.data_type = "s"  # stored as text: leading zeros stay
        cell.number_format = "@"
    elif column.kind == "amount":
        cell.number_format = "#,##0"
    elif column.kind == "day":
        cell.number_format = "yyyy-mm-dd"


# A payment order's statement (``settlement.statement_rows``): its columns, the keys of
# their headers and their kinds; codes are identifiers too (a leading zero is meaningful).
STATEMENT_COLUMNS = (
    ("document_id", Column(N_("field.document_id"), "id")),
    ("external_id", Column(N_("field.document_number"), "id")),
    ("kind", Column(N_("field.kind"), "text")),
    ("service_date", Column(N_("field.service_date"), "text")),
    ("patient_national_id", Column(N_("field.national_id"), "id")),
    ("line_no", Column(N_("statement.line"), "count")),
    ("code_type", Column(N_("statement.code_type"), "text")),
    ("code", Column(N_("statement.code"), "id")),
    ("requested", Column(N_("amount.requested"), "amount")),
    ("eligible", Column(N_("amount.eligible"), "amount")),
    ("deduction_reason", Column(N_("field.reason"), "text")),
    ("deduction_amount", Column(N_("amount.deducted"), "amount")),
    ("deduction_detail", Column(N_("statement.deduction_detail"), "text")),
    ("copayment", Column(N_("amount.copayment"), "amount")),
    ("insurer_share", Column(N_("amount.insurer"), "amount")),
    ("supplementary_share", Column(N_("payers.supplementary"), "amount")),
    ("fund_share", Column(N_("amount.fund"), "amount")),
    ("patient_pays", Column(N_("payers.patient"), "amount")),
)


def statement_csv(rows: Sequence[dict[str, object]], locale: Locale) -> bytes:
    """The statement's rows with headers in the page's language (reason and kind codes as
    they are: a spreadsheet filters on them)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([locale.plain(column.key) for _, column in STATEMENT_COLUMNS])
    for row in rows:
        writer.writerow([_csv_cell(row[name], column) for name, column in STATEMENT_COLUMNS])
    return out.getvalue().encode("utf-8")
