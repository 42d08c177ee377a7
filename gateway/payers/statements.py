"""A supplementary insurer's statement for a period: every line it pays, as JSON or CSV.
The FHIR form (a Claim per document with the basic insurer's ClaimResponse as the prior
payer's adjudication) is built by ``gateway.fhir.supplementary`` from the same rows."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from gateway.kit.periods import period_end
from gateway.payers import repository as store

STATEMENT_COLUMNS = (
    "document_id", "external_id", "centre", "service_date", "patient_national_id",
    "insurance_number", "policy", "line_no", "code_type", "code", "amount",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StatementLine:
    document_id: uuid.UUID
    external_id: str
    centre: str
    service_date: date
    patient_national_id: str
    insurance_number: str
    policy: str | None
    line_no: int
    code_type: str
    code: str
    amount: int


def insurer_statement(session: Session, *, insurer: str, period: str) -> list[StatementLine]:
    """The lines the insurer pays in documents whose service falls in the period."""
    end = period_end(period)
    start = end.replace(day=1)
    return [
        StatementLine(*row)
        for row in store.insurer_lines(session, insurer=insurer, start=start, end=end)
    ]


def statement_json(insurer: str, period: str, lines: list[StatementLine]) -> dict[str, Any]:
    return {
        "insurer": insurer,
        "period": period,
        "documents": len({line.document_id for line in lines}),
        "total": sum(line.amount for line in lines),
        "lines": [
            {**asdict(line), "document_id": str(line.document_id),
             "service_date": line.service_date.isoformat()}
            for line in lines
        ],
    }  # fmt: skip


def statement_csv(lines: list[StatementLine]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STATEMENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow(asdict(line))
    return out.getvalue()
