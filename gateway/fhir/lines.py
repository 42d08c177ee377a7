"""Claim.item -> lines of the JSON form: code, quantity, unit price and amount in rials.

Amounts are computed from the rounded values (amount = quantity x unit price, total = sum
of amounts), so the amount rules always hold; where the Claim's own ``net`` or ``total``
says otherwise, a warning tells the sender.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.fhir import systems
from gateway.fhir.notes import Notes
from gateway.fhir.text import decimal_of, round_half_up, short_text, tariff_code, to_date

RIAL_MAX = 999_999_999_999_999
QUANTITY_MAX = 100_000
Line = dict[str, Any]


def filler_line() -> Line:
    return {"codeType": "service", "code": "NO-ITEMS", "quantity": 1, "unitPrice": 0, "amount": 0}


def map_lines(claim: dict[str, Any], drugs: bool, notes: Notes) -> list[Line]:
    """One line per Claim.item, in order (``drugs``: uncoded systems mean drug codes)."""
    items = [item for item in claim.get("item") or [] if isinstance(item, dict)]
    if not items:
        notes.error("fhir.claim-items-missing", "The Claim has no item to bill.", "item")
        return [filler_line()]
    _check_currency(claim, items, notes)
    lines = [_line(item, f"item[{index}]", drugs, notes) for index, item in enumerate(items)]
    total = sum(line["amount"] for line in lines)
    if total > RIAL_MAX:
        notes.error("fhir.amount-out-of-range", f"The lines add up to more than {RIAL_MAX:,}.")
        for line in lines:
            line["unitPrice"] = line["amount"] = 0
        total = 0
    claimed = _money(claim.get("total"))
    if claimed is not None and round_half_up(claimed) != total:
        notes.warning(
            "fhir.total-mismatch",
            f"Claim.total is {claimed}; the sum of the lines as billed here is {total:,}.",
            "total",
        )
    return lines


def _money(value: Any) -> Decimal | None:
    return decimal_of(value.get("value")) if isinstance(value, dict) else None


def _check_currency(claim: dict[str, Any], items: list[dict[str, Any]], notes: Notes) -> None:
    """One warning when any amount is in another currency than IRR (taken as rials)."""
    places = [("total", claim.get("total"))]
    for index, item in enumerate(items):
        places += [(f"item[{index}].{name}", item.get(name)) for name in ("unitPrice", "net")]
    for where, money in places:
        currency = money.get("currency") if isinstance(money, dict) else None
        if isinstance(currency, str) and currency != systems.CURRENCY:
            notes.warning(
                "fhir.currency-not-irr",
                f"Amounts are in {currency}; they are taken as {systems.CURRENCY} (rials) "
                "without conversion.",
                f"{where}.currency",
            )
            return


def _line(item: dict[str, Any], where: str, drugs: bool, notes: Notes) -> Line:
    code_type, code, description = _code(item, where, drugs, notes)
    quantity = _quantity(item, where, notes)
    unit = _unit_price(item, quantity, where, notes)
    amount = quantity * unit
    if amount > RIAL_MAX:
        notes.error("fhir.amount-out-of-range", f"{quantity} x {unit:,} is too large.", where)
        unit = amount = 0
    net = _money(item.get("net"))
    if net is not None and round_half_up(net) != amount:
        notes.warning(
            "fhir.item-net-mismatch",
            f"net is {net}; quantity {quantity} x unit price {unit:,} = {amount:,} is billed.",
            f"{where}.net",
        )
    line: Line = {"codeType": code_type, "code": code}
    if description is not None:
        line["description"] = description
    served = to_date(item.get("servicedDate"))
    if served is None and isinstance(item.get("servicedPeriod"), dict):
        served = to_date(item["servicedPeriod"].get("start"))
    if served is not None:
        line["serviceDate"] = served.isoformat()
    line.update(quantity=quantity, unitPrice=unit, amount=amount)
    return line


def _code(
    item: dict[str, Any], where: str, drugs: bool, notes: Notes
) -> tuple[str, str, str | None]:
    concept = item.get("productOrService")
    concept = concept if isinstance(concept, dict) else {}
    codings = [
        c
        for c in concept.get("coding") or []
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    ]
    ours = (systems.TARIFF_SERVICE, systems.TARIFF_DRUG)
    chosen = next((c for c in codings if c.get("system") in ours), codings[0] if codings else {})
    system = chosen.get("system")
    if system in ours:
        code_type = "drug" if system == systems.TARIFF_DRUG else "service"
    else:
        code_type = "drug" if drugs else "service"
    raw = chosen.get("code")
    code, changed = tariff_code(raw.strip() if isinstance(raw, str) else None)
    if raw is None:
        notes.warning(
            "fhir.item-code-missing", "No productOrService code.", f"{where}.productOrService"
        )
    elif changed:
        notes.warning(
            "fhir.item-code-adjusted",
            f"Code {raw!r} does not fit a tariff code; billed as {code}.",
            f"{where}.productOrService",
        )
    description = short_text(concept.get("text")) or short_text(chosen.get("display"))
    return code_type, code, description


def _quantity(item: dict[str, Any], where: str, notes: Notes) -> int:
    quantity = item.get("quantity")
    value = decimal_of(quantity.get("value")) if isinstance(quantity, dict) else None
    if value is None:
        return 1
    fitted = min(max(round_half_up(value), 1), QUANTITY_MAX)
    if fitted != value:
        notes.warning(
            "fhir.item-quantity-adjusted",
            f"Quantity {value} is billed as {fitted} (a whole number from 1 to {QUANTITY_MAX:,}).",
            f"{where}.quantity",
        )
    return fitted


def _unit_price(item: dict[str, Any], quantity: int, where: str, notes: Notes) -> int:
    """unitPrice (times factor), else net / quantity, rounded half up to whole rials."""
    price = _money(item.get("unitPrice"))
    if price is not None:
        factor = decimal_of(item.get("factor"))
        if factor is not None:
            price *= factor
    else:
        net = _money(item.get("net"))
        if net is None:
            notes.warning("fhir.item-price-missing", "No unitPrice or net: billed at 0.", where)
            return 0
        price = net / quantity
    unit = round_half_up(price)
    if unit < 0:
        notes.error("fhir.item-price-negative", f"A negative price ({price}) is not billed.", where)
        return 0
    if unit > RIAL_MAX:
        notes.error("fhir.amount-out-of-range", f"Unit price {unit:,} is too large.", where)
        return 0
    return unit
