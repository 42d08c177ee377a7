"""Eligibility before care: read what the rules need, ask the pure assessment, record the
inquiry in the audit trail (and, once committed, in the metrics). Both doors (JSON and
FHIR) call ``inquire`` in the request's one session.

The centre is always the caller's: an inquiry is about care at the asking centre, so no
centre can learn what another centre's patients are covered for there. The audit entry
names the centre, the day, the setting, the codes and the answer, never the national ID
or the insurance number (the trail's status moves and reads name documents, not
patients).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain as audit
from gateway.domain.documents import CodeType
from gateway.domain.tariff import TariffBook
from gateway.eligibility import repository as store
from gateway.eligibility.schemas import VisitSetting
from gateway.errors import ForbiddenError
from gateway.kit.db import after_commit
from gateway.pricing.engine.eligibility import Answer, Inquiry, assess
from gateway.pricing.service import NoTariffError, Policies, TariffCache
from gateway.referrals import service as referrals
from gateway.settings import Settings, today

ACTION = "eligibility.inquiry"
SUBJECT = "eligibility_inquiry"
_books = TariffCache()


@dataclass(frozen=True, slots=True)
class Question:
    """What a centre asks, whichever door it came through."""

    national_id: str
    insurance_number: str
    service_date: date
    setting: VisitSetting
    services: Sequence[tuple[CodeType, str]]


@dataclass(frozen=True, slots=True)
class Usage:
    """What the patient's live bills already hold of one asked code."""

    period: str  # YYYY-MM
    used: int  # units billed in that month
    left: int | None  # units a document for the day can still be paid


@dataclass(frozen=True, slots=True)
class Inquired:
    inquiry_id: str
    door: str  # api or fhir
    centre_code: str
    question: Question
    answer: Answer
    usage: tuple[Usage, ...]  # one per asked service, in order


def inquire(
    session: Session,
    *,
    centre_id: int,
    actor: str,
    door: str,
    question: Question,
    settings: Settings,
) -> Inquired:
    """Answer one inquiry for care at the caller's own centre and record it."""
    centre = store.centre(session, centre_id)
    if centre is None:
        raise ForbiddenError("Only a registered centre may ask about eligibility.")
    policies = Policies.from_settings(settings)
    day = question.service_date
    first = day.replace(day=1)
    last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    billed = store.billed_units(
        session,
        national_id=question.national_id,
        codes={code for _, code in question.services},
        first=first,
        last=last,
    )
    on_day: dict[str, str] = {}
    for b in billed:  # the earliest stored first, as pricing names the earliest bill
        if b.service_date == day:
            on_day.setdefault(b.code, _bill_words(b, centre_id))
    inquiry = Inquiry(
        centre=centre,
        setting=question.setting.document_kind.setting,
        national_id=question.national_id,
        insurance_number=question.insurance_number,
        on=day,
        coverage=store.coverages(session, question.national_id),
        referral_mandatory=referrals.rollout(session=session).in_programme(
            centre.province, centre.kind, day
        ),
        billed_on_day=on_day,
        filed_on=today(settings),
        filing_window_days=policies.filing_window_days,
    )
    answer = assess(inquiry, question.services, _book(session), policies.copay)
    usage = tuple(
        _usage(code_type, code, limit, billed, day)
        for (code_type, code), limit in zip(
            question.services, (s.quantity_limit for s in answer.services), strict=True
        )
    )
    inquired = Inquired(str(uuid.uuid4()), door, centre.code, question, answer, usage)
    audit.append(session, [_record(inquired, actor)])
    after_commit(session, partial(_count, inquired))
    return inquired


def _count(inquired: Inquired) -> None:
    """The inquiry in gateway_eligibility_inquiries_total, by door and answer."""
    answer = "covered" if inquired.answer.covered else "not-covered"
    metrics.ELIGIBILITY_INQUIRIES.labels(inquired.door, answer).inc()


def _book(session: Session) -> TariffBook | None:
    try:
        return _books.current(session)
    except NoTariffError:
        return None


def _bill_words(billed: store.Billed, centre_id: int) -> str:
    # As pricing names the earlier bill: another centre's document number is not the
    # asking centre's to read.
    if billed.centre_id == centre_id:
        return f"document {billed.external_id} of this centre"
    return f"document {billed.document_id} of another centre"


def _usage(
    code_type: CodeType, code: str, limit: int | None, billed: list[store.Billed], day: date
) -> Usage:
    mine = [b for b in billed if b.code == code and b.code_type == code_type.value]
    on_day = any(b.service_date == day for b in billed if b.code == code)
    return Usage(
        period=f"{day.year:04d}-{day.month:02d}",
        used=sum(b.units for b in mine),
        left=0 if on_day else limit,
    )


def _record(inquired: Inquired, actor: str) -> audit.Record:
    answer, question = inquired.answer, inquired.question
    details: dict[str, Any] = {
        "door": inquired.door,
        "centre": inquired.centre_code,
        "service_date": question.service_date.isoformat(),
        "setting": question.setting.value,
        "covered": answer.covered,
        "reasons": [r.code for r in answer.reasons],
        "services": [
            {"code_type": s.code_type.value, "code": s.code, "covered": s.covered}
            for s in answer.services
        ],
    }
    return audit.Record(actor, ACTION, SUBJECT, inquired.inquiry_id, details)
