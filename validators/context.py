"""What the business rules may consult besides the document: one immutable bundle.

The server fills it from the database (only what one submission needs); the offline
validator from files. A part left as None is not checked, and the report says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from gateway.domain.referrals import ReferralInfo, Rollout
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import TariffBook


@dataclass(frozen=True, slots=True)
class RuleContext:
    today: date
    centre: CentreInfo | None = None
    coverages: Mapping[str, list[Coverage]] | None = None
    tariff: TariffBook | None = None
    accepted_numbers: Collection[str] = ()
    stored_services: Collection[tuple[str, str, date]] = ()
    submission_window_days: int = 90
    # The referral programme's rollout table (None: the referral rule is not checked) and
    # the referrals the submission's codes name, as found (None: codes are not looked up).
    rollout: Rollout | None = None
    referrals: Mapping[str, ReferralInfo] | None = None
