"""A quick yes for JSON submissions the XSD accepts, compiled from the same XSD.

Most submissions are valid, and for them the JSON -> XML text -> libxml2 route costs
three times what deciding "valid" in Python costs. So the plan derived from the XSD
(validators/jsonplan.py) is compiled once more, into checks on the parsed JSON object:
keys known and required ones present, arrays within their occurrences, and every
scalar's JSON type, lexical form and facets (patterns, enumerations, lengths, bounds,
fixed values, dates).

They assume what the caller checks first on the text (validators.jsontext's
strings_are_plain): no string holds an escape, so none holds a character XML cannot
carry, nor a tab or a line break. Given that, the checks are sound, not complete: they
answer True only for what the XSD accepts.
Anything they do not model exactly (a type or facet outside the small set below, a
string that XML would normalise, a time zone, an XSD regex construct without an exact
Python twin) answers False, and the caller then takes the exact route, which also finds
the problems and their JSON pointers. A False therefore never changes an answer; it only
costs the slower route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from validators.jsonplan import ARRAY, CHOICE_ARRAY, OBJECT, PlanNode

Check = Callable[[Any], bool]

_XSD = "{http://www.w3.org/2001/XMLSchema}"
# Built-in types handled, by what their values are; any other built-in: not modelled.
_STRING_TYPES = {_XSD + "string", _XSD + "anySimpleType"}
_TOKEN_TYPES = {_XSD + "token", _XSD + "normalizedString"}
_INTEGER_TYPES = {_XSD + "integer", _XSD + "nonNegativeInteger", _XSD + "positiveInteger"}
_DECIMAL = _XSD + "decimal"
_DATE, _DATETIME = _XSD + "date", _XSD + "dateTime"
_BOUNDS = ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive")
_LENGTHS = ("length", "minLength", "maxLength")
_KNOWN_FACETS = {"pattern", "enumeration", "whiteSpace", *_BOUNDS, *_LENGTHS}

_ASCII_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Seconds with at most six decimals (what datetime keeps exactly); the zone Z or an offset.
_ASCII_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(Z|[+-]([0-9]{2}):([0-5][0-9]))?"  # libxml2 refuses zone minutes past 59
)
# XSD regex pieces that mean the same in Python: literal letters and digits, a few
# escaped punctuation marks, classes of those and of ranges, counted repeats.
_PIECE = re.compile(
    r"\[(?:[A-Za-z0-9._/]|\\[-.]|[A-Za-z0-9]-[A-Za-z0-9])+\]"  # a class, no negation
    r"|[A-Za-z0-9_]|\\[-.]"  # a literal
    r"|\{[0-9]+(?:,[0-9]*)?\}|[?*+]"  # a quantifier
)


def _never(_: Any) -> bool:
    return False


def compile_plan(plan: PlanNode) -> Check:
    """A check of a whole JSON submission: True only if the XSD accepts it."""
    return _node(plan)


def _node(node: PlanNode) -> Check:
    if node.shape == OBJECT:
        return _object(node)
    if node.shape == ARRAY:
        assert node.item is not None
        return _array(_node(node.item), node.min_items, node.max_items)
    if node.shape == CHOICE_ARRAY:
        return _choices(node)
    return _simple(node)


def _object(node: PlanNode) -> Check:
    checks: dict[str, Check] = {}
    required: set[str] = set()
    for name, attribute in node.attributes.items():
        checks[name] = _simple(attribute)
        if attribute.required:
            required.add(name)
    for slot in node.children:
        check = _node(slot.node)
        if slot.repeated:
            check = _array(check, slot.min_occurs, slot.max_occurs)
        checks[slot.name] = check
        if slot.min_occurs:
            required.add(slot.name)
    needed = frozenset(required)
    get = checks.get

    def check_object(value: Any) -> bool:
        if type(value) is not dict or not needed <= value.keys():
            return False
        for key, item in value.items():
            check = get(key)
            if check is None or not check(item):
                return False
        return True

    return check_object


def _array(item: Check, least: int, most: int | None) -> Check:
    def check_array(value: Any) -> bool:
        if type(value) is not list or len(value) < least:
            return False
        if most is not None and len(value) > most:
            return False
        return all(map(item, value))

    return check_array


def _choices(node: PlanNode) -> Check:
    checks = {name: _node(choice) for name, choice in node.choices.items()}
    least, most = node.min_items, node.max_items

    def check_entry(entry: Any) -> bool:
        if type(entry) is not dict or len(entry) != 1:
            return False
        ((name, body),) = entry.items()
        check = checks.get(name)
        return check is not None and check(body)

    return _array(check_entry, least, most)


# -- scalars -------------------------------------------------------------------------------


def _simple(node: PlanNode) -> Check:
    """The check of one scalar: its JSON type and what the XSD type asks of its text."""
    chain = _chain(node.xsd_type)
    if chain is None:
        return _never
    builtin, restrictions = chain
    facets = _facets(restrictions)
    if facets is None:
        return _never
    if builtin in _INTEGER_TYPES:
        check = _integer(builtin, facets)
    elif builtin in _STRING_TYPES or builtin in _TOKEN_TYPES:
        check = _string(builtin in _TOKEN_TYPES, facets)
    elif builtin == _DATE and not facets:
        check = _date
    elif builtin == _DATETIME and not facets:
        check = _datetime
    else:
        return _never
    if node.fixed is not None:
        fixed, inner = node.fixed, check
        return lambda value: value == fixed and inner(value)
    return check


def _chain(xsd_type: Any) -> tuple[str, list[Any]] | None:
    """The first built-in type an XSD simple type derives from, and the restrictions of
    the schema's own types above it (each a step of facets); None if not a plain atomic
    restriction chain."""
    restrictions: list[Any] = []
    current = xsd_type
    while current is not None:
        name = current.name or ""
        if name.startswith(_XSD):
            return name, restrictions
        if not current.is_simple() or not current.is_atomic() or current.is_list():
            return None
        restrictions.append(current)
        current = getattr(current, "base_type", None)
    return None


def _facets(restrictions: list[Any]) -> dict[str, Any] | None:
    """The restrictions' facets merged: patterns of every step (all must match), the
    tightest bounds and lengths, the innermost enumeration; None for a facet or a
    whitespace rule not modelled."""
    merged: dict[str, Any] = {"pattern": []}
    for step in restrictions:
        for key, facet in (step.facets or {}).items():
            if key is None:
                continue
            name = key.split("}", 1)[1]
            if name not in _KNOWN_FACETS or name == "whiteSpace":
                return None  # whiteSpace on the schema's own types changes the value
            if name == "pattern":
                patterns = [_python_regex(p) for p in facet.regexps]
                if any(p is None for p in patterns):
                    return None
                merged["pattern"].append([re.compile(p) for p in patterns if p is not None])
            elif name == "enumeration":
                merged.setdefault("enumeration", frozenset(step.enumeration))
            else:
                value = facet.value
                tighter = max if name.startswith("min") else min
                merged[name] = tighter(merged[name], value) if name in merged else value
    if not merged["pattern"]:
        del merged["pattern"]
    return merged


def _python_regex(pattern: str) -> str | None:
    """An XSD pattern as a Python one for re.fullmatch, when its pieces mean the same in
    both; None otherwise."""
    at, out = 0, []
    while at < len(pattern):
        piece = _PIECE.match(pattern, at)
        if piece is None:
            return None
        out.append(piece.group())
        at = piece.end()
    return "".join(out)


def _integer(builtin: str, facets: dict[str, Any]) -> Check:
    if "pattern" in facets or "enumeration" in facets or any(k in facets for k in _LENGTHS):
        return _never
    low = {_XSD + "nonNegativeInteger": 0, _XSD + "positiveInteger": 1}.get(builtin)
    high = None
    if "minInclusive" in facets:
        low = facets["minInclusive"] if low is None else max(low, facets["minInclusive"])
    if "minExclusive" in facets:
        bound = facets["minExclusive"] + 1
        low = bound if low is None else max(low, bound)
    if "maxInclusive" in facets:
        high = facets["maxInclusive"]
    if "maxExclusive" in facets:
        bound = facets["maxExclusive"] - 1
        high = bound if high is None else min(high, bound)
    if not all(isinstance(b, int) for b in (low, high) if b is not None):
        return _never
    floor = low if low is not None else -(10**400)
    ceiling = high if high is not None else 10**400

    def check_integer(value: Any) -> bool:
        return type(value) is int and floor <= value <= ceiling

    return check_integer


def _string(token: bool, facets: dict[str, Any]) -> Check:
    if any(k in facets for k in _BOUNDS):
        return _never
    tests: list[Check] = []  # each on a str; the common single ones get a closure of their own
    if token:
        tests.append(_collapsed)
    shortest = facets.get("length", facets.get("minLength", 0))
    longest = facets.get("length", facets.get("maxLength"))
    if shortest or longest is not None:
        top = longest if longest is not None else float("inf")
        tests.append(lambda value: shortest <= len(value) <= top)
    allowed: frozenset[str] | None = facets.get("enumeration")
    if allowed is not None:
        tests.append(allowed.__contains__)
    for step in facets.get("pattern", []):
        tests.append(_matches(step))
    if not tests:
        return lambda value: type(value) is str
    if len(tests) == 1:
        (only,) = tests
        return lambda value: type(value) is str and bool(only(value))
    return lambda value: type(value) is str and all(test(value) for test in tests)


def _matches(step: list[re.Pattern[str]]) -> Check:
    """One derivation step's patterns: the value matches one of them whole."""
    if len(step) == 1:
        match = step[0].fullmatch
        return lambda value: match(value) is not None
    matches = [pattern.fullmatch for pattern in step]
    return lambda value: any(match(value) for match in matches)


def _collapsed(value: str) -> bool:
    """Already as XML would collapse it (plain strings hold no tab or line break)."""
    return value[:1] != " " and value[-1:] != " " and "  " not in value


_VALID_DATES: set[str] = set()  # dates seen valid: a line's date is mostly its document's


def _date(value: Any) -> bool:
    if type(value) is not str:
        return False
    if value in _VALID_DATES:
        return True
    if _ASCII_DATE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    if len(_VALID_DATES) < 100_000:
        _VALID_DATES.add(value)
    return True


def _datetime(value: Any) -> bool:
    if type(value) is not str:
        return False
    found = _ASCII_DATETIME.fullmatch(value)
    if found is None:
        return False
    zone, hours, minutes = found.groups()
    if zone is not None and zone != "Z" and (int(hours), int(minutes)) > (14, 0):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
