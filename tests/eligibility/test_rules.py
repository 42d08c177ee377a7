"""The inquiry's answers are pricing's: for every code of the sample book, in every setting,
sector, centre kind and province, a service is covered exactly when pricing would pay a
line of it, needs a referral exactly when pricing would deduct one without it, and the
co-payment rate is the one pricing applies. Pure: no database."""

from __future__ import annotations

import itertools
from datetime import date

from gateway.admin.service import SAMPLE_TARIFF_DIR
from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CareSetting, CodeType, Line
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import ItemKind
from gateway.pricing.engine.adjudicate import CopayPolicy, PricingRequest, price_document
from gateway.pricing.engine.eligibility import Inquiry, assess
from gateway.pricing.engine.rules import Reason
from gateway.pricing.tariff_csv import read_book

DAYS = (date(2024, 3, 19), date(2025, 6, 1), date(2026, 11, 25))
PATIENT, NUMBER = "6383233564", "55501234"
COVERAGE = (Coverage(PATIENT, NUMBER, date(2024, 1, 1), date(2026, 11, 15)),)
POLICY = CopayPolicy()
PROVINCES = frozenset({"Tehran"})


def test_services_are_covered_exactly_when_pricing_pays_them() -> None:
    book = read_book(SAMPLE_TARIFF_DIR).to_book(1, "sample")
    codes = sorted({(item.code, item.kind) for item in book.all_items()})
    asked = [
        (CodeType.DRUG if kind is ItemKind.DRUG else CodeType.SERVICE, code) for code, kind in codes
    ]
    asked += [(CodeType.DRUG, "970000"), (CodeType.SERVICE, "UNKNOWN")]
    checked = 0
    for kind, sector, province, setting, day in itertools.product(
        CentreKind, Sector, ("Tehran", "Isfahan"), CareSetting, DAYS
    ):
        centre = CentreInfo("C1", "Centre", kind, sector, province)
        inquiry = Inquiry(
            centre=centre,
            setting=setting,
            national_id=PATIENT,
            insurance_number=NUMBER,
            on=day,
            coverage=COVERAGE,
            referral_mandatory=province in PROVINCES,
            billed_on_day={},
        )
        answer = assess(inquiry, asked, book, POLICY)
        assert answer.covered is (day <= date(2026, 11, 15))
        assert answer.copay_rate == POLICY.rate(kind, setting)
        for (code_type, code), service in zip(asked, answer.services, strict=True):
            line = Line(code_type, code, 1, 1, 1, day)
            priced = price_document(
                PricingRequest(
                    centre=centre,
                    setting=setting,
                    lines=[line],
                    referral_code="12345678",
                    referral_mandatory=province in PROVINCES,
                    coverage=COVERAGE if answer.covered else (),
                    insurance_number=NUMBER,
                ),
                book,
                POLICY,
            ).lines[0]
            paid = priced.unit is not None
            if answer.covered:
                assert service.covered is paid, (code_type, code, setting, day)
            else:  # pricing refuses everything; the inquiry still says what the tariff pays
                assert not paid
            without_referral = price_document(
                PricingRequest(
                    centre=centre,
                    setting=setting,
                    lines=[line],
                    referral_mandatory=province in PROVINCES,
                    coverage=COVERAGE,
                    insurance_number=NUMBER,
                ),
                book,
                POLICY,
            ).lines[0]
            reasons = {d.reason for d in without_referral.deductions}
            if service.covered and answer.covered:
                assert service.referral_required is (Reason.MISSING_REFERRAL in reasons)
            checked += 1
    assert checked > 1000


def test_a_service_billed_that_day_is_a_duplicate_as_pricing_deducts_it() -> None:
    book = read_book(SAMPLE_TARIFF_DIR).to_book(1, "sample")
    centre = CentreInfo("C1", "Centre", CentreKind.CONTRACTED, Sector.PRIVATE, "Isfahan")
    inquiry = Inquiry(
        centre=centre,
        setting=CareSetting.OUTPATIENT,
        national_id=PATIENT,
        insurance_number=NUMBER,
        on=date(2026, 11, 10),
        coverage=COVERAGE,
        referral_mandatory=False,
        billed_on_day={"970000": "document OV-1 of this centre"},
    )
    asked = [(CodeType.SERVICE, "970000"), (CodeType.SERVICE, "800010")]
    visit, cbc = assess(inquiry, asked, book, POLICY).services
    assert [(r.code, r.message) for r in visit.reasons] == [
        (
            "duplicate-line",
            "970000 on 2026-11-10 is already billed for this patient in document OV-1 of this "
            "centre",
        )
    ]
    assert cbc.covered
