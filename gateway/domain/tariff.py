"""The tariff book in memory: effective-dated services, drugs and K coefficients."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from gateway.domain.centres import Sector


class ItemKind(StrEnum):
    SERVICE = "service"
    DRUG = "drug"
    PACKAGE = "package"


class Component(StrEnum):
    PROFESSIONAL = "professional"
    TECHNICAL = "technical"
    ANESTHESIA = "anesthesia"


class Setting(StrEnum):
    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class TariffItem:
    """A service, drug or package, valid from ``valid_from`` to ``valid_to`` inclusive."""

    code: str
    title: str
    kind: ItemKind
    valid_from: date
    valid_to: date | None = None
    professional_rvu: Decimal = Decimal(0)
    technical_rvu: Decimal = Decimal(0)
    anesthesia_rvu: Decimal = Decimal(0)
    unit_price: int | None = None
    covered: bool = True
    max_quantity: int | None = None
    referral_required: bool = False
    setting: Setting = Setting.BOTH

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class KCoefficient:
    """Rials per relative-value unit for one sector and component over a period."""

    sector: Sector
    component: Component
    value: int
    valid_from: date
    valid_to: date | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(slots=True)
class TariffBook:
    """One imported tariff version, indexed for lookups by code and date."""

    version_id: int
    label: str
    _items: dict[str, list[TariffItem]] = field(default_factory=lambda: defaultdict(list))
    _k: dict[tuple[Sector, Component], list[KCoefficient]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _memo: dict[tuple[str, date], TariffItem | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls, version_id: int, label: str, items: list[TariffItem], ks: list[KCoefficient]
    ) -> TariffBook:
        book = cls(version_id, label)
        for item in items:
            book._items[item.code].append(item)
        for k in ks:
            book._k[(k.sector, k.component)].append(k)
        return book

    def item(self, code: str, on: date) -> TariffItem | None:
        key = (code, on)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = next((i for i in self._items.get(code, ()) if i.in_force(on)), None)
        if len(self._memo) > 100_000:
            self._memo.clear()
        self._memo[key] = found
        return found

    def knows(self, code: str) -> bool:
        return code in self._items

    def k(self, sector: Sector, component: Component, on: date) -> int | None:
        for k in self._k.get((sector, component), ()):
            if k.in_force(on):
                return k.value
        return None
