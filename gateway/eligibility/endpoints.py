"""POST /v1/eligibility: is this patient covered here on that day, and for what.

Only a centre's token may ask (403 for staff), and only about care at its own centre: the
body names no centre. Inquiries spend a budget of their own per centre
(``GATEWAY_ELIGIBILITY_PER_MINUTE``) besides the centre's general one, so a front desk
checking every patient cannot starve the centre's claims, nor the reverse.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from gateway import metrics
from gateway.domain.centres import Role
from gateway.eligibility import service
from gateway.eligibility.schemas import (
    CoverageOut,
    EligibilityIn,
    EligibilityOut,
    ReasonOut,
    ServiceOut,
)
from gateway.errors import ForbiddenError, RateLimitedError
from gateway.kit.deps import (
    IN_MEMORY_LIMITERS,
    Caller,
    Principal,
    State,
    WriteSession,
)
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors
from gateway.kit.ratelimit import Limiter, Unlimited
from gateway.pricing.engine.eligibility import Finding

router = APIRouter(prefix="/v1", tags=["eligibility"])

_FORBIDDEN = "Only a centre's token may ask about eligibility."


async def spend_inquiry_budget(request: Request, centre_code: str) -> None:
    """Take one inquiry from the centre's eligibility budget, or refuse with 429."""
    limiter: Limiter = getattr(request.app.state, "eligibility_limiter", None) or Unlimited()
    if isinstance(limiter, IN_MEMORY_LIMITERS):
        wait = limiter.take(centre_code)
    else:
        wait = await run_in_threadpool(limiter.take, centre_code)
    if wait:
        metrics.RATE_LIMITED.inc()
        raise RateLimitedError(wait)


async def inquiring_centre(request: Request, caller: Caller) -> Principal:
    """The asking centre, once it has spent one inquiry of its budget (403 for staff)."""
    if caller.role is not Role.CENTRE or caller.centre is None:
        raise ForbiddenError(_FORBIDDEN)
    await spend_inquiry_budget(request, caller.centre.code)
    return caller


InquiringCentre = Annotated[Principal, Depends(inquiring_centre)]


def question_of(body: EligibilityIn) -> service.Question:
    return service.Question(
        national_id=body.national_id,
        insurance_number=body.insurance_number,
        service_date=body.service_date,
        setting=body.setting,
        services=[(s.code_type, s.code) for s in body.services],
    )


@router.post(
    "/eligibility",
    summary="Check a patient's coverage at this centre on a day, before care",
    description="Covered or not on that day and why not, the co-payment rate at this centre "
    "for the setting, and for each service asked: covered or not, whether a referral is "
    "required, and the quantity limit with what the patient's bills already used. The "
    "same rules as the submission check and pricing. Each inquiry is in the audit trail. "
    "See docs/eligibility.md.",
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        422,
        said={
            **BAD_JSON,
            403: _FORBIDDEN,
            422: ("request.invalid", "Input should be 'service' or 'drug'"),
        },
        c429="The centre is over its eligibility budget (GATEWAY_ELIGIBILITY_PER_MINUTE) or "
        "its general requests-per-minute budget; retry after Retry-After seconds",
    ),
)
def check_eligibility(
    body: EligibilityIn, caller: InquiringCentre, state: State, session: WriteSession
) -> EligibilityOut:
    assert caller.centre is not None
    inquired = service.inquire(
        session,
        centre_id=caller.centre.id,
        actor=caller.actor,
        door="api",
        question=question_of(body),
        settings=state.settings,
    )
    return answer_of(inquired)


def _reasons(findings: tuple[Finding, ...]) -> list[ReasonOut]:
    return [ReasonOut(code=f.code, message=f.message, path=f.path) for f in findings]


def answer_of(inquired: service.Inquired) -> EligibilityOut:
    answer, question = inquired.answer, inquired.question
    period = answer.coverage
    rate = answer.copay_rate
    return EligibilityOut(
        inquiry_id=inquired.inquiry_id,
        covered=answer.covered,
        reasons=_reasons(answer.reasons),
        centre_code=inquired.centre_code,
        service_date=question.service_date,
        setting=question.setting,
        coverage=None
        if period is None
        else CoverageOut(
            insurance_number=period.insurance_number,
            valid_from=period.valid_from,
            valid_to=period.valid_to,
        ),
        copayment_rate=f"{rate:f}",
        copayment_rate_percent=f"{(rate * 100).normalize():f}",
        services=[
            ServiceOut(
                code_type=s.code_type,
                code=s.code,
                title=s.title,
                covered=s.covered,
                reasons=_reasons(s.reasons),
                referral_required=s.referral_required,
                quantity_limit=s.quantity_limit,
                quantity_period=usage.period,
                quantity_used=usage.used,
                quantity_left=usage.left,
            )
            for s, usage in zip(answer.services, inquired.usage, strict=True)
        ],
    )
