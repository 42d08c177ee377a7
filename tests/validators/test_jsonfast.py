"""The quick JSON check says yes only to what the XSD accepts (validators/jsonfast.py).

Each test compares it with the exact route (JSON written as XML text, validated by
libxml2 against the XSD) on the bundled examples and on generated variants of them: a
value replaced by a tricky one, a key removed or added, an array emptied or grown. The
quick check may say no to a valid document (the exact route then decides); it must never
say yes to an invalid one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.jsonfast import _python_regex
from validators.schema import claim_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))
SCHEMA = claim_schema()

TRICKY_TEXT = [
            "", " ", "1", "X1", " X12", "X12 ", "AB  12", "A B", "DEMO-001", "demo-001",
            "0013542419", "001354241", "00135424190", "١٢٣٤٥٦٧٨٩٠", "0013542419 ",
            "2026-11-10", "2026-02-30", "2026-11-10Z", "0000-01-01", "10000-01-01",
            "2026-1-10", "2026-11-10T10:00:00", "2026-11-20T10:00:00+03:30",
            "2026-11-20T10:00:00+14:30", "2026-11-20T24:00:00", "2026-11-20T10:00:00.1234567",
            "2026-11-20T10:00:00+13:60", "2026-11-20T10:00:00-03:75", "0001-01-01T00:00:00+14:00",
            "service", "drug", "Service", "specialist", "other", "x" * 200, "x" * 201,
            "P400100", "A.B-C", "A_B", "-AB", "1" * 17, "é", "a\u00a0b",
]  # fmt: skip
TRICKY = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.sampled_from([0, 1, -1, 100_000, 100_001, 999_999_999_999_999, 10**15, 2**63 - 1]),
    st.sampled_from([True, False, None, 1.0, 1.5, [], {}, [1], {"a": 1}]),
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # what orjson reads
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: object keys and array indices, depth first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _parent(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        value = value[step]
    return value


def _agrees(value: Any) -> None:
    """Quick yes implies exact yes; and the schema check, quick route first, answers as
    the exact route does."""
    exact = SCHEMA.exact_json_check(value)
    if SCHEMA.quick_json_check(value):
        assert exact, orjson.dumps(value)[:2000]
    assert SCHEMA.check_json(orjson.dumps(value)).ok == exact


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_the_valid_examples_take_the_quick_route(path: Path) -> None:
    value = orjson.loads(path.read_bytes())
    assert SCHEMA.exact_json_check(value)
    assert SCHEMA.quick_json_check(value)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_the_invalid_examples_are_never_accepted_quickly(path: Path) -> None:
    try:
        value = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        pytest.skip("not JSON at all")
    if isinstance(value, dict):
        _agrees(value)


@pytest.mark.parametrize(
    ("xsd", "python"),
    [
        ("[0-9]{10}", "[0-9]{10}"),
        ("[A-Z0-9][A-Z0-9\\-]{2,19}", "[A-Z0-9][A-Z0-9\\-]{2,19}"),
        ("[A-Za-z0-9][A-Za-z0-9._/\\-]{0,39}", "[A-Za-z0-9][A-Za-z0-9._/\\-]{0,39}"),
        ("\\d{3}", None),  # Unicode digits in XSD; not modelled
        ("[^0-9]", None),
        ("a|b", None),
        ("(ab)+", None),
        (".*", None),
        ("[a-z-[aeiou]]", None),  # XSD class subtraction
        ("^a$", None),  # literal ^ and $ in XSD
    ],
)
def test_only_patterns_with_an_exact_python_twin_are_translated(
    xsd: str, python: str | None
) -> None:
    assert _python_regex(xsd) == python


QUICK = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(st.sampled_from(VALID), st.data())
def test_a_value_replaced_is_never_accepted_unless_valid(path: Path, data: st.DataObject) -> None:
    value = orjson.loads(path.read_bytes())
    places = [p for p in _paths(value) if p]
    place = data.draw(st.sampled_from(places))
    _parent(value, place)[place[-1]] = data.draw(TRICKY)
    _agrees(value)


@QUICK
@given(st.sampled_from(VALID), st.data())
def test_a_key_removed_added_or_an_array_changed_is_never_accepted_unless_valid(
    path: Path, data: st.DataObject
) -> None:
    value = orjson.loads(path.read_bytes())
    place = data.draw(st.sampled_from(_paths(value)))
    target = _parent(value, place)[place[-1]] if place else value
    action = data.draw(st.sampled_from(["remove", "add", "empty", "grow", "wrap"]))
    if action == "remove" and place:
        del _parent(value, place)[place[-1]]
    elif action == "add" and isinstance(target, dict):
        target[data.draw(st.sampled_from(["extra", "lines", "line", "code", "header"]))] = 1
    elif action == "empty" and isinstance(target, list | dict):
        target.clear()
    elif action == "grow" and isinstance(target, list) and target:
        target.append(copy.deepcopy(target[0]))
        if isinstance(target[0], dict) and len(target[0]) == 1:
            target.append({**copy.deepcopy(target[0]), "outpatientVisit": {}})
    elif action == "wrap" and place:
        _parent(value, place)[place[-1]] = [target]
    _agrees(value)


@pytest.mark.parametrize(
    "created",
    ["2026-11-20T10:00:00+13:60", "2026-11-20T10:00:00-03:75", "2026-11-20T10:00:00+03:30"],
)
def test_a_time_zone_with_minutes_past_59_is_not_accepted_quickly(created: str) -> None:
    data = orjson.loads((EXAMPLES / "valid" / "outpatient-visit.json").read_bytes())
    data["header"]["createdAt"] = created
    _agrees(data)
