"""The payers' API: programmes and enrolments (staff), donations, donors' reports and the
supplementary insurers' statements (finance). Every change is audited by the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from gateway.audit import reads
from gateway.kit.deps import Finance, ReadSession, Staff, WriteSession
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors
from gateway.payers import funds, statements
from gateway.payers.schemas import (
    CODE,
    PERIOD,
    DonationIn,
    DonationOut,
    DonorReportOut,
    EnrolmentIn,
    EnrolmentOut,
    InsurerStatementOut,
    ProgrammeIn,
    ProgrammeOut,
    ReportRowOut,
)
from gateway.storage.models import CharityProgramme

router = APIRouter(prefix="/v1/payers", tags=["payers"])
FINANCE_ONLY: dict[int, str | tuple[str, str]] = {403: "This needs a token of role finance, admin."}
STAFF_ONLY: dict[int, str | tuple[str, str]] = {
    403: "This needs a token of role auditor, finance, admin."
}
Receipt = Annotated[str, Path(pattern=r"^CF-\d{4}-\d{7}$", examples=["CF-2026-0000042"])]
Insurer = Annotated[str, Path(pattern=CODE, examples=["ALBORZ-SUP"])]
Period = Annotated[str, Query(pattern=PERIOD, examples=["2026-11"])]


def _programme(row: CharityProgramme) -> ProgrammeOut:
    return ProgrammeOut.model_validate(row, from_attributes=True)


@router.post(
    "/programmes",
    status_code=201,
    response_model=ProgrammeOut,
    responses=errors(*AUTHENTICATED, 400, 403, 409, 422, c409="The code is taken",
                     said={**BAD_JSON, **FINANCE_ONLY, 409: "Programme TEH-HARD already exists."}),
    summary="Create a charity programme (finance)",
)  # fmt: skip
def create_programme(body: ProgrammeIn, caller: Finance, session: WriteSession) -> ProgrammeOut:
    row = funds.create_programme(
        session,
        code=body.code,
        name=body.name,
        province=body.province,
        diagnosis_groups=body.diagnosis_groups,
        patient_annual_ceiling=body.patient_annual_ceiling,
        centres=body.centres,
        actor=caller.actor,
    )
    return _programme(row)


@router.get(
    "/programmes",
    response_model=list[ProgrammeOut],
    responses=errors(*AUTHENTICATED, 403, said=STAFF_ONLY),
    summary="The charity programmes (staff)",
)
def list_programmes(caller: Staff, session: ReadSession) -> list[ProgrammeOut]:
    return [_programme(row) for row in funds.programmes(session)]


@router.post(
    "/enrolments",
    status_code=201,
    response_model=EnrolmentOut,
    responses=errors(*AUTHENTICATED, 400, 403, 404, 422,
                     said={**BAD_JSON, **STAFF_ONLY, 404: "Programme TEH-HARD not found."}),
    summary="Enrol a patient in a programme for a diagnosis group (staff)",
)  # fmt: skip
def enrol(body: EnrolmentIn, caller: Staff, session: WriteSession) -> EnrolmentOut:
    row = funds.enrol(
        session,
        programme_code=body.programme,
        national_id=body.national_id,
        diagnosis_group=body.diagnosis_group,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        actor=caller.actor,
    )
    return EnrolmentOut(
        id=row.id,
        programme=body.programme,
        diagnosis_group=body.diagnosis_group,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _donation(standing: funds.DonationStanding) -> DonationOut:
    row = standing.donation
    return DonationOut.model_validate(
        {
            "receipt_number": row.receipt_number,
            "donor": row.donor,
            "amount": row.amount,
            "received_on": row.received_on,
            "earmark_kind": row.earmark_kind,
            "earmark_value": row.earmark_value,
            "message": row.message,
            "given": standing.given,
            "held": standing.held,
        }
    )


@router.post(
    "/donations",
    status_code=201,
    response_model=DonationOut,
    responses=errors(*AUTHENTICATED, 400, 403, 422, said={**BAD_JSON, **FINANCE_ONLY}),
    summary="Record a donation and receipt it (finance)",
)
def record_donation(body: DonationIn, caller: Finance, session: WriteSession) -> DonationOut:
    row = funds.record_donation(
        session,
        donor=body.donor,
        amount=body.amount,
        received_on=body.received_on,
        earmark_kind=body.earmark_kind,
        earmark_value=body.earmark_value,
        message=body.message,
        actor=caller.actor,
    )
    return _donation(funds.DonationStanding(row, 0, row.amount))


@router.get(
    "/donations",
    response_model=list[DonationOut],
    responses=errors(*AUTHENTICATED, 403, said=FINANCE_ONLY),
    summary="Every donation with what it gave and still holds (finance)",
)
def list_donations(caller: Finance, session: ReadSession) -> list[DonationOut]:
    return [_donation(standing) for standing in funds.donations(session)]


@router.get(
    "/donations/{receipt}/report",
    response_model=DonorReportOut,
    responses=errors(*AUTHENTICATED, 403, 404, 422,
                     said={**FINANCE_ONLY, 404: "Donation CF-2026-0000042 not found."}),
    summary="What a donation paid for, by month, centre and kind; never who (finance)",
)  # fmt: skip
def donor_report(receipt: Receipt, caller: Finance, session: WriteSession) -> DonorReportOut:
    standing, rows = funds.donor_report(session, receipt=receipt, actor=caller.actor)
    return DonorReportOut(
        donation=_donation(standing),
        total=sum(row.amount for row in rows),
        rows=[ReportRowOut.model_validate(row, from_attributes=True) for row in rows],
    )


@router.get(
    "/insurers/{insurer}/statement",
    response_model=InsurerStatementOut,
    responses=errors(*AUTHENTICATED, 403, 422, said=FINANCE_ONLY),
    summary="A supplementary insurer's statement for a month of service (finance)",
)
def insurer_statement(
    insurer: Insurer, period: Period, caller: Finance, session: WriteSession
) -> InsurerStatementOut:
    lines = statements.insurer_statement(session, insurer=insurer, period=period)
    _record(session, caller, "GET /v1/payers/insurers/{insurer}/statement", lines)
    return InsurerStatementOut.model_validate(statements.statement_json(insurer, period, lines))


@router.get(
    "/insurers/{insurer}/statement.csv",
    responses={
        **errors(*AUTHENTICATED, 403, 422, said=FINANCE_ONLY),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    },
    summary="The supplementary insurer's statement as CSV (finance)",
)
def insurer_statement_csv(
    insurer: Insurer, period: Period, caller: Finance, session: WriteSession
) -> Response:
    lines = statements.insurer_statement(session, insurer=insurer, period=period)
    _record(session, caller, "GET /v1/payers/insurers/{insurer}/statement.csv", lines)
    return Response(
        statements.statement_csv(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{insurer}-{period}.csv"'},
    )


def _record(
    session: Session, caller: Finance, route: str, lines: list[statements.StatementLine]
) -> None:
    """The statement names patients: the read is recorded like any staff read."""
    documents = sorted({line.document_id for line in lines})
    if documents:
        reads.record_read(session, caller, route, documents=documents)
