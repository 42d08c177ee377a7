"""The referral programme's API: issue a referral, read it (the issuing centre and the
centres that used it only), list them, and give the specialist's feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gateway.domain.bounds import Offset
from gateway.domain.centres import Role
from gateway.domain.referrals import CareLevel, ReferralStatus
from gateway.errors import ForbiddenError
from gateway.kit.deps import Caller, CentreCaller, Principal, ReadSession, State, WriteSession
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors
from gateway.referrals import service as referrals
from gateway.referrals.schemas import (
    FeedbackIn,
    FeedbackOut,
    ReferralIn,
    ReferralOut,
    ReferralPage,
    ReferredLevel,
)
from gateway.settings import today
from gateway.storage.models import Centre, Referral

router = APIRouter(prefix="/v1", tags=["referrals"])

Code = Annotated[str, Path(pattern=r"^[0-9]{8,16}$", description="A referral code")]
CENTRES_ONLY = (
    "Referrals are read only by the centre that issued them and the centres that used them."
)


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralOut,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        422,
        said={
            **BAD_JSON,
            403: "Only a centre's token may submit documents.",
            422: ("referral.not-on-list", "The patient is not on 112233's list on 2026-11-23."),
        },
    ),
    summary="Issue a referral (a level-1 centre, for a patient on its physician's list)",
)
def issue_referral(
    body: ReferralIn, response: Response, caller: CentreCaller, session: WriteSession, state: State
) -> ReferralOut:
    assert caller.centre is not None
    row = referrals.issue(
        session=session,
        centre=caller.centre,
        request=referrals.Issue(
            physician_number=body.physician,
            patient_national_id=body.patient,
            level=CareLevel(int(body.level)),
            specialty=body.specialty,
            reason_icd10=body.reason,
            reason_text=body.reason_text,
            issued_on=body.issued_on or today(state.settings),
            visits=body.visits,
        ),
        validity_days=state.settings.referral_validity_days,
        source="api",
        actor=caller.actor,
    )
    response.headers["Location"] = f"/v1/referrals/{row.code}"
    return referral_out(session, row, state)


@router.get(
    "/referrals/{code}",
    response_model=ReferralOut,
    responses=errors(*AUTHENTICATED, 403, 404, 422, said={403: CENTRES_ONLY}),
    summary="A referral and its feedback (the issuing centre and the centres that used it)",
)
def get_referral(code: Code, caller: Caller, session: WriteSession, state: State) -> ReferralOut:
    row = referrals.read(session=session, code=code, centre=_centre(caller), actor=caller.actor)
    return referral_out(session, row, state)


@router.get(
    "/referrals",
    response_model=ReferralPage,
    responses=errors(*AUTHENTICATED, 403, 422, said={403: CENTRES_ONLY}),
    summary="The referrals a centre issued or used, newest first, by status",
)
def list_referrals(
    caller: Caller,
    session: WriteSession,
    state: State,
    status: Annotated[ReferralStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> ReferralPage:
    rows, total = referrals.listed(
        session=session,
        centre=_centre(caller),
        status=status,
        today=today(state.settings),
        limit=limit,
        offset=offset,
        actor=caller.actor,
    )
    return ReferralPage(
        items=[referral_out(session, r, state) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/referrals/{code}/feedback",
    response_model=ReferralOut,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        404,
        409,
        422,
        said={
            **BAD_JSON,
            403: "Feedback is given by the centre that used the referral.",
            409: "Feedback was already given for this referral.",
        },
    ),
    summary="The specialist's feedback to the family physician (the centre that used it)",
)
def give_feedback(
    code: Code, body: FeedbackIn, caller: CentreCaller, session: WriteSession, state: State
) -> ReferralOut:
    assert caller.centre is not None
    row = referrals.give_feedback(
        session=session,
        code=code,
        centre=caller.centre,
        feedback=referrals.Feedback(body.diagnosis, body.findings, body.plan, body.back_to_level1),
        actor=caller.actor,
    )
    return referral_out(session, row, state)


def _centre(caller: Principal) -> Centre:
    """The calling centre; staff roles may not read referrals (docs/referrals.md)."""
    if caller.role is not Role.CENTRE or caller.centre is None:
        raise ForbiddenError(CENTRES_ONLY)
    return caller.centre


def referral_out(session: ReadSession, row: Referral, state: State) -> ReferralOut:
    codes = referrals.centre_codes(
        session=session, ids={row.issuing_centre_id, row.feedback_centre_id or 0}
    )
    feedback = None
    if row.feedback_at is not None:
        feedback = FeedbackOut(
            diagnosis=row.feedback_diagnosis or "",
            findings=row.feedback_findings or "",
            plan=row.feedback_plan or "",
            back_to_level1=bool(row.feedback_back_to_level1),
            given_at=row.feedback_at,
            centre=codes.get(row.feedback_centre_id or 0),
        )
    return ReferralOut(
        code=row.code,
        status=referrals.status_of(row, today(state.settings)),
        issuing_centre=codes[row.issuing_centre_id],
        physician=row.physician_number,
        patient=row.patient_national_id,
        level=ReferredLevel(row.level),
        specialty=row.specialty,
        reason=row.reason_icd10,
        reason_text=row.reason_text,
        issued_on=row.issued_on,
        valid_until=row.valid_until,
        visits=row.visits,
        visits_used=row.visits_used,
        source=row.source,
        feedback=feedback,
    )
