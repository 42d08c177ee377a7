"""Properties of the parsers, validators and money, checked on generated inputs.

- any bytes, and any JSON value, given to the schema check give problems, never an
  exception;
- a submission written as JSON and as XML reads to the same documents and gets the same
  problems, valid or not;
- the national-ID rule agrees with the check-digit definition on every 10-digit string;
- rounding to rials is within half a rial, halves away from zero; a priced line splits
  exactly into eligible + deducted and co-payment + insurer share.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.domain.money import round_rials
from tests import factories as f
from tests.pricing.test_pricing import L, price
from validators.business import validate_submission
from validators.context import RuleContext
from validators.reader import read_submission
from validators.rules.patient import national_id_is_valid
from validators.schema import Format, claim_schema

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)


def _problems_only(data: bytes, fmt: Format) -> None:
    result = claim_schema().check(data, fmt)
    assert result.ok or result.problems
    for problem in result.problems:
        assert problem.code
        assert problem.message
    if result.ok:
        assert result.root is not None
        read_submission(result.root, fmt, result.source)


@FAST
@given(st.binary(max_size=2000))
@example(b"\xef\xbb\xbf<?xml version='1.0'?><a/>")
@example(b'<?xml version="1.0" encoding="UTF-16"?><a/>')
@example(b"<!DOCTYPE a [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><a>&e;</a>")
def test_any_bytes_as_xml_give_problems_not_exceptions(data: bytes) -> None:
    _problems_only(data, Format.XML)


@FAST
@given(st.binary(max_size=2000))
@example(b'{"a": 1, "a": 2}')
@example(b"[" * 2000)
def test_any_bytes_as_json_give_problems_not_exceptions(data: bytes) -> None:
    _problems_only(data, Format.JSON)


@FAST
@given(json_values)
def test_any_json_value_gives_problems_not_exceptions(value: Any) -> None:
    _problems_only(json.dumps(value).encode(), Format.JSON)  # integers of any size


@FAST
@given(st.dictionaries(st.sampled_from(["schemaVersion", "header", "documents", "x"]), json_values))
def test_any_json_in_the_submission_shape_gives_problems_not_exceptions(value: Any) -> None:
    _problems_only(json.dumps(value).encode(), Format.JSON)  # integers of any size


digits = st.text(alphabet="0123456789", min_size=10, max_size=10)


def reference_check(code: str) -> bool:
    if len(set(code)) == 1:
        return False  # 0000000000, 1111111111, ... pass the arithmetic but are not issued
    total = sum(int(d) * (10 - i) for i, d in enumerate(code[:9])) % 11
    return int(code[9]) == (total if total < 2 else 11 - total)


@FAST
@given(digits)
def test_national_id_rule_is_the_check_digit_definition(code: str) -> None:
    assert national_id_is_valid(code) is reference_check(code)


@FAST
@given(st.integers(0, 10**9 - 1))
def test_every_nine_digits_have_exactly_one_valid_check_digit(seed: int) -> None:
    head = f"{seed:09d}"
    assume(len(set(head)) > 1)
    assert sum(national_id_is_valid(head + str(d)) for d in range(10)) == 1


# -- JSON and XML say the same --------------------------------------------------------

lines = st.lists(
    st.fixed_dictionaries(
        {
            "code": st.sampled_from(["970000", "800010", "999999", "300100", "2001007"]),
            "quantity": st.integers(-1, 100_001),
            "unitPrice": st.integers(0, 10**10),
            "skew": st.sampled_from([0, 0, 0, 1]),
        }
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    documents = []
    for entry in draw(st.lists(lines, min_size=1, max_size=3)):
        built = [
            f.line(
                item["code"],
                item["quantity"],
                item["unitPrice"],
                "drug" if item["code"].startswith("2") else "service",
            )
            for item in entry
        ]
        for line, item in zip(built, entry, strict=True):
            line["amount"] += item["skew"]
        document = f.outpatient_visit(
            built,
            number=draw(st.from_regex(r"[A-Za-z0-9\-]{1,20}", fullmatch=True)),
            service_date=draw(st.dates(date(2026, 1, 1), date(2026, 12, 31))).isoformat(),
        )
        body = document["outpatientVisit"]
        body["patient"]["nationalId"] = draw(
            st.sampled_from([f.national_id(1), "0000000001", draw(digits)])
        )
        body["totalAmount"] += draw(st.sampled_from([0, 0, 1]))
        documents.append(document)
    return f.submission("HOSP-0042", *documents)


def _codes(problems: list[Any]) -> list[tuple[str, str]]:
    return sorted((p.code, p.severity) for p in problems)


@SLOW
@given(submissions())
def test_json_and_xml_of_a_submission_read_the_same_and_get_the_same_problems(
    data: dict[str, Any],
) -> None:
    schema = claim_schema()
    from_json = schema.check_json(orjson.dumps(data))
    assert from_json.root is not None
    xml = etree.tostring(from_json.root, xml_declaration=True, encoding="UTF-8")
    from_xml = schema.check_xml(xml)
    assert _codes(from_json.problems) == _codes(from_xml.problems)
    if not from_json.ok:
        return
    assert from_xml.ok
    assert from_xml.root is not None
    as_json = read_submission(from_json.root, Format.JSON, from_json.source)
    as_xml = read_submission(from_xml.root, Format.XML)
    assert [(d.number, d.patient, d.lines, d.total_amount) for d in as_json.documents] == [
        (d.number, d.patient, d.lines, d.total_amount) for d in as_xml.documents
    ]
    context = RuleContext(today=f.TODAY)
    rules_json = validate_submission(as_json, context, centre_code="HOSP-0042")
    rules_xml = validate_submission(as_xml, context, centre_code="HOSP-0042")
    # Messages may name a location, which is a JSON pointer or an XPath: codes compare.
    assert [_codes(p) for p in rules_json.documents] == [_codes(p) for p in rules_xml.documents]


# -- money ---------------------------------------------------------------------------

amounts = st.decimals(min_value=-(10**15), max_value=10**15, places=4, allow_nan=False)


@FAST
@given(amounts)
def test_rounding_to_rials_is_within_half_a_rial_and_halves_go_away_from_zero(
    value: Decimal,
) -> None:
    rials = round_rials(value)
    assert abs(Decimal(rials) - value) <= Decimal("0.5")
    if abs(value - value.to_integral_value(rounding="ROUND_FLOOR")) == Decimal("0.5"):
        assert abs(rials) > abs(value)
    assert round_rials(Decimal(rials)) == rials
    assert round_rials(-value) == -rials


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["970000", "800010", "600100", "111111", "950100", "999999", "2001001", "970005"]
            ),
            st.integers(1, 40),
            st.integers(0, 5_000_000),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_priced_line_splits_exactly(items: list[tuple[str, int, int]]) -> None:
    result = price([L(code, qty, unit) for code, qty, unit in items])
    for (_, qty, unit), line in zip(items, result.lines, strict=True):
        assert line.requested == qty * unit
        assert line.requested == line.eligible + line.deducted
        assert line.eligible == line.copayment + line.insurer_share
        assert 0 <= line.copayment <= line.eligible
        assert all(d.amount > 0 for d in line.deductions)
    assert price([L(c, q, u) for c, q, u in items]) == result
