"""The tariff book in memory: effective-dated services, drugs and K coefficients."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
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


class Grade(StrEnum):
    """A physician's grade; K coefficients may differ by it."""

    GENERAL = "general"
    SPECIALIST = "specialist"
    SUBSPECIALIST = "subspecialist"


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

    def applies_to(self, setting: str) -> bool:
        return self.setting is Setting.BOTH or self.setting.value == setting


@dataclass(frozen=True, slots=True)
class KCoefficient:
    """Rials per relative-value unit for one sector and component over a period; for one
    physician grade only when ``grade`` is set (otherwise for every grade)."""

    sector: Sector
    component: Component
    value: int
    valid_from: date
    valid_to: date | None = None
    grade: Grade | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class PackagePrice:
    """The fixed price of a global package for one sector over a period."""

    code: str
    sector: Sector
    price: int
    valid_from: date
    valid_to: date | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class PackageContent:
    """A service or drug code whose lines a package's price covers."""

    package_code: str
    item_code: str


@dataclass(slots=True)
class TariffBook:
    """One imported tariff version, indexed for lookups by code and date."""

    version_id: int
    label: str
    _items: dict[str, list[TariffItem]] = field(default_factory=lambda: defaultdict(list))
    _k: dict[tuple[Sector, Component, Grade | None], list[KCoefficient]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _package_prices: dict[tuple[str, Sector], list[PackagePrice]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _package_contents: dict[str, frozenset[str]] = field(default_factory=dict)
    _memo: dict[tuple[str, date], TariffItem | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        version_id: int,
        label: str,
        items: Iterable[TariffItem],
        ks: Iterable[KCoefficient],
        package_prices: Iterable[PackagePrice] = (),
        package_contents: Iterable[PackageContent] = (),
    ) -> TariffBook:
        book = cls(version_id, label)
        for item in items:
            book._items[item.code].append(item)
        for k in ks:
            book._k[(k.sector, k.component, k.grade)].append(k)
        for price in package_prices:
            book._package_prices[(price.code, price.sector)].append(price)
        contents: dict[str, set[str]] = defaultdict(set)
        for content in package_contents:
            contents[content.package_code].add(content.item_code)
        book._package_contents = {code: frozenset(codes) for code, codes in contents.items()}
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

    def k(
        self, sector: Sector, component: Component, on: date, grade: Grade | None = None
    ) -> int | None:
        """K in force on a date: the physician grade's own when the book has one, else the
        sector's K for every grade."""
        if grade is not None:
            for k in self._k.get((sector, component, grade), ()):
                if k.in_force(on):
                    return k.value
        for k in self._k.get((sector, component, None), ()):
            if k.in_force(on):
                return k.value
        return None

    def package_price(self, code: str, sector: Sector, on: date) -> int | None:
        for price in self._package_prices.get((code, sector), ()):
            if price.in_force(on):
                return price.price
        return None

    def package_contents(self, code: str) -> frozenset[str]:
        return self._package_contents.get(code, frozenset())

    # Everything the book holds, for export and for storing a version.
    def all_items(self) -> list[TariffItem]:
        return [item for rows in self._items.values() for item in rows]

    def all_ks(self) -> list[KCoefficient]:
        return [k for rows in self._k.values() for k in rows]

    def all_package_prices(self) -> list[PackagePrice]:
        return [price for rows in self._package_prices.values() for price in rows]

    def all_package_contents(self) -> list[PackageContent]:
        return [
            PackageContent(code, item)
            for code, items in self._package_contents.items()
            for item in sorted(items)
        ]
