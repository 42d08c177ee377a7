"""Referral rule: in provinces where the family-physician programme is mandatory, a
service that needs a referral needs the referral code on the document."""

from __future__ import annotations

from gateway.domain.documents import Document
from validators.context import RuleContext
from validators.problems import Problem
from validators.rules.paths import field_path
from validators.tariffs import tariff_index


def check_referral(document: Document, context: RuleContext) -> list[Problem]:
    centre, book = context.centre, context.tariff
    if document.referral_code or centre is None or book is None:
        return []
    if centre.province not in context.referral_provinces:
        return []
    index = tariff_index(book)
    needing = sorted(
        {
            line.code
            for line in document.lines
            if (item := index.on(line.service_date)[line.code]) is not None
            and item.referral_required
        }
    )
    if not needing:
        return []
    return [
        Problem(
            "referral.missing",
            f"Services {', '.join(needing)} need a family-physician referral in "
            f"{centre.province}; referralCode is missing.",
            field_path(document, "referralCode"),
            document.line_no,
        )
    ]
