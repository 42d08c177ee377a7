"""The family-physician referral programme as the rules see it: levels of care, the
province-by-province rollout, referrals and their codes. Pure: no I/O."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import IntEnum, StrEnum

from stdnum import luhn

from gateway.domain.centres import CentreKind

# 13 random digits and a Luhn check digit: 10^13 codes (a guess hits one live referral in
# billions), one mistyped digit or swapped neighbour pair caught by the check digit, and
# still inside the XSD's ReferralCode pattern ([0-9]{8,16}).
CODE_RANDOM_DIGITS = 13
CODE_LENGTH = CODE_RANDOM_DIGITS + 1


class CareLevel(IntEnum):
    """Level 1: family physician or GP; 2: specialist; 3: sub-specialist or hospital."""

    FAMILY_PHYSICIAN = 1
    SPECIALIST = 2
    SUBSPECIALIST = 3


class RolloutScope(StrEnum):
    """Where a province's programme applies: the insurer's own centres only (internal
    referral, the first phase), or contracted centres too."""

    OWNED = "owned"
    ALL = "all"


class ReferralStatus(StrEnum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"


def level_of_grade(grade: str) -> CareLevel:
    """The level of care a physician's grade practises at."""
    if grade == "subspecialist":
        return CareLevel.SUBSPECIALIST
    if grade == "specialist":
        return CareLevel.SPECIALIST
    return CareLevel.FAMILY_PHYSICIAN


def visit_level(grade: str, needs_referral: bool) -> CareLevel:
    """The level of a visit: the physician's grade, and level 2 at least when the tariff
    says a service billed on it needs a referral (a specialist visit code)."""
    level = level_of_grade(grade)
    if needs_referral and level is CareLevel.FAMILY_PHYSICIAN:
        return CareLevel.SPECIALIST
    return level


def required_level(
    rollout: Rollout,
    *,
    province: str | None,
    centre_kind: CentreKind,
    on: date,
    grade: str,
    is_visit: bool,
    needs_referral: bool,
    emergency: bool,
) -> CareLevel | None:
    """The level whose referral a document needs, or None: an emergency never does; an
    outpatient visit at level 2 or 3 does, and so does any document billing a service the
    tariff says needs one, where the rollout table applies that level on that day."""
    if emergency:
        return None
    level = visit_level(grade, needs_referral)
    if level is CareLevel.FAMILY_PHYSICIAN or not (needs_referral or is_visit):
        return None
    return level if rollout.applies(province, centre_kind, on, level) else None


@dataclass(frozen=True, slots=True)
class RolloutEntry:
    province: str
    required_from: date
    levels: frozenset[CareLevel]
    scope: RolloutScope

    def applies(self, kind: CentreKind, on: date, level: CareLevel) -> bool:
        if on < self.required_from or level not in self.levels:
            return False
        return self.scope is RolloutScope.ALL or kind is CentreKind.OWNED


@dataclass(frozen=True, slots=True)
class Rollout:
    """The rollout table: which provinces require a referral, from when, at which levels."""

    entries: Mapping[str, RolloutEntry]

    @classmethod
    def of(cls, entries: Iterable[RolloutEntry]) -> Rollout:
        return cls({e.province: e for e in entries})

    def applies(self, province: str | None, kind: CentreKind, on: date, level: CareLevel) -> bool:
        entry = self.entries.get(province or "")
        return entry is not None and entry.applies(kind, on, level)

    def in_programme(self, province: str | None, kind: CentreKind, on: date) -> bool:
        """Whether any level needs a referral here on that day."""
        entry = self.entries.get(province or "")
        return entry is not None and any(entry.applies(kind, on, lv) for lv in entry.levels)


NO_ROLLOUT = Rollout({})


@dataclass(frozen=True, slots=True)
class ReferralInfo:
    """A referral as the submission rules check it."""

    code: str
    patient_national_id: str
    level: CareLevel
    specialty: str | None
    issued_on: date
    valid_until: date
    visits: int
    visits_used: int

    @property
    def visits_left(self) -> int:
        return max(0, self.visits - self.visits_used)

    def status(self, today: date) -> ReferralStatus:
        if self.visits_left == 0:
            return ReferralStatus.USED
        return ReferralStatus.EXPIRED if today > self.valid_until else ReferralStatus.OPEN


def new_referral_code() -> str:
    """A fresh, unguessable referral code with its check digit."""
    body = f"{secrets.randbelow(10**CODE_RANDOM_DIGITS):0{CODE_RANDOM_DIGITS}d}"
    return body + luhn.calc_check_digit(body)


def referral_code_is_valid(code: str) -> bool:
    """Whether a code has the shape and check digit of an issued referral code."""
    return len(code) == CODE_LENGTH and code.isdigit() and luhn.is_valid(code)
