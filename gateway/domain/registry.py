"""Reference data the rules consult: who is insured when, and which centres may bill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from gateway.domain.centres import CentreKind, Sector


@dataclass(frozen=True, slots=True)
class Coverage:
    """A period during which a person is insured, under one insurance number."""

    national_id: str
    insurance_number: str
    valid_from: date
    valid_to: date | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class CentreInfo:
    """A centre as the rules see it. No contract dates recorded means an open contract."""

    code: str
    name: str
    kind: CentreKind
    sector: Sector
    province: str | None = None
    contract_from: date | None = None
    contract_to: date | None = None

    def under_contract(self, on: date) -> bool:
        if self.kind is CentreKind.OWNED:
            return True
        starts = self.contract_from is None or self.contract_from <= on
        return starts and (self.contract_to is None or on <= self.contract_to)


@dataclass(frozen=True, slots=True)
class SupplementaryTerms:
    """A person's supplementary policy as the registry gives it (supplementary.csv)."""

    national_id: str
    insurer_code: str
    insurer_name: str
    policy_number: str
    priority: int
    valid_from: date
    valid_to: date | None
    copay_share: Decimal
    uncovered_share: Decimal
    annual_ceiling: int | None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


class CoverageGap(StrEnum):
    """Why a person is not covered under a number on a date, as the door refuses it."""

    NOT_INSURED = "not-insured"
    NUMBER_MISMATCH = "insurance-number-mismatch"


def coverage_on(
    periods: Sequence[Coverage], insurance_number: str, on: date
) -> tuple[Coverage | None, CoverageGap | None]:
    """The period in force on ``on`` under ``insurance_number``, or why there is none: no
    period in force that day, or none under that number. The submission check and the
    eligibility inquiry both judge coverage with this."""
    in_force = [p for p in periods if p.in_force(on)]
    if not in_force:
        return None, CoverageGap.NOT_INSURED
    for period in in_force:
        if period.insurance_number == insurance_number:
            return period, None
    return None, CoverageGap.NUMBER_MISMATCH
