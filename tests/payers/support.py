"""Helpers of the payers' tests: a priced visit of a known patient, a policy, a programme."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.payers import DiagnosisGroup, EarmarkKind
from gateway.kit.db import transaction
from gateway.payers import funds
from gateway.payers import repository as store
from gateway.pricing.service import Policies
from gateway.storage.models import SupplementaryPolicy
from tests import factories as f
from tests.submissions.test_submissions import JSON, auth, price_all

# 970000 asked 650000 (tariff 738000): eligible 650000, co-payment 30% = 195000;
# 800010 asked 300000 (tariff 379200): eligible 300000, co-payment 90000. Share 285000.
VISIT_LINES = [("970000", 1, 650_000), ("800010", 1, 300_000)]
VISIT_SHARE = (195_000, 90_000)


def priced_visit(
    client: TestClient,
    sessions: sessionmaker[Session],
    token: str,
    centre_code: str,
    national_id: str,
    policies: Policies,
    service_date: str = "2026-11-10",
) -> uuid.UUID:
    document: dict[str, Any] = f.outpatient_visit(
        [f.line(code, qty, price) for code, qty, price in VISIT_LINES], service_date=service_date
    )
    document["outpatientVisit"]["patient"]["nationalId"] = national_id
    body = f.as_json(f.submission(centre_code, document))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON))
    assert answer.status_code == 202, answer.text
    document_id = str(answer.json()["documents"][0]["id"])
    price_all(sessions, [document_id], policies)
    return uuid.UUID(document_id)


def add_policy(
    sessions: sessionmaker[Session],
    national_id: str,
    insurer: str,
    *,
    priority: int = 1,
    copay: str = "0.5",
    uncovered: str = "0",
    ceiling: int | None = None,
) -> None:
    with transaction(sessions) as session:
        session.add(
            SupplementaryPolicy(
                national_id=national_id,
                insurer_code=insurer,
                insurer_name=f"{insurer} insurance",
                policy_number=f"P-{uuid.uuid4().hex[:8]}",
                priority=priority,
                valid_from=date(2026, 3, 21),
                valid_to=None,
                copay_share=Decimal(copay),
                uncovered_share=Decimal(uncovered),
                annual_ceiling=ceiling,
            )
        )


def programme_with_patients(
    sessions: sessionmaker[Session], *national_ids: str, ceiling: int = 10_000_000
) -> str:
    code = f"HARD-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as session:
        funds.create_programme(
            session,
            code=code,
            name="Hard-to-treat patients",
            province=None,
            diagnosis_groups=[DiagnosisGroup.THALASSAEMIA, DiagnosisGroup.CANCER],
            patient_annual_ceiling=ceiling,
            centres=[],
            actor="test",
        )
        for national_id in national_ids:
            funds.enrol(
                session,
                programme_code=code,
                national_id=national_id,
                diagnosis_group=DiagnosisGroup.THALASSAEMIA,
                valid_from=date(2026, 1, 1),
                valid_to=None,
                actor="test",
            )
    return code


def give(
    sessions: sessionmaker[Session],
    amount: int,
    *,
    on: date = date(2026, 10, 1),
    earmark: tuple[EarmarkKind, str] | None = None,
) -> str:
    with transaction(sessions) as session:
        row = funds.record_donation(
            session,
            donor="A donor",
            amount=amount,
            received_on=on,
            earmark_kind=earmark[0] if earmark else None,
            earmark_value=earmark[1] if earmark else None,
            message="for the patients",
            actor="test",
        )
        return row.receipt_number


def ledger_is_whole(sessions: sessionmaker[Session]) -> None:
    """Every transfer balances and every kept balance is the sum of its entries."""
    with sessions() as session:
        assert store.unbalanced_transfers(session) == []
        assert store.balances_kept(session) == store.balances_from_entries(session)
