"""Any structurally valid Claim maps to a schema-valid submission: odd values never fail."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from gateway.fhir.issues import StructureError
from gateway.fhir.mapping import map_submission
from gateway.fhir.parse import Syntax, parse_body
from gateway.submissions.service import parse_valid
from tests import factories as f
from tests.fhir.claims import CORPUS, claim, item
from validators.schema import Format

ODD_TEXT = ["  padded  ", "\x01ctrl\x7f", "ü" * 300, "🙂 emoji", "a b/c:d", "-", "\ufffe?"]
ODD_NUMBERS = [0, 0.4, 0.5, 1.5, 2.5, -3, -0.5, 1e9, 1e20, 123456.789]
ODD_DATES = ["2014", "2014-08", "2030-01-01", "2014-08-16T23:59:59+14:00"]
Mutation = Callable[[dict[str, Any], Any], None]


def _set_identifier(c: dict[str, Any], value: Any) -> None:
    c["identifier"] = [{"value": value}]


def _set_code(c: dict[str, Any], value: Any) -> None:
    for entry in c.get("item", []):
        entry["productOrService"] = {"coding": [{"code": value}], "text": value}


def _set_quantity(c: dict[str, Any], value: Any) -> None:
    for entry in c.get("item", []):
        entry["quantity"] = {"value": value}


def _set_price(c: dict[str, Any], value: Any) -> None:
    for entry in c.get("item", []):
        entry["unitPrice"] = {"value": value, "currency": "EUR"}
        entry["net"] = {"value": value}


def _set_period(c: dict[str, Any], value: Any) -> None:
    c["billablePeriod"] = {"start": value, "end": "2014-01-01"}
    c["created"] = value


def _set_names(c: dict[str, Any], value: Any) -> None:
    for resource in c.get("contained", []):
        resource["name"] = [{"text": value}]
        resource["identifier"] = [{"system": "x", "value": value}]


MUTATIONS: list[tuple[Mutation, list[Any]]] = [
    (_set_identifier, ODD_TEXT),
    (_set_code, ODD_TEXT),
    (_set_quantity, ODD_NUMBERS),
    (_set_price, ODD_NUMBERS),
    (_set_period, ODD_DATES),
    (_set_names, ODD_TEXT),
]


def seeds() -> list[dict[str, Any]]:
    found = [claim(f.new_national_id(), [item(1, "970000", 1, 10), item(2, "800010", 2, 5)])]
    for path in sorted((CORPUS / "examples-json").glob("Claim-*.json")):
        found.append(orjson.loads(path.read_bytes()))
    return found


def variants() -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    for seed in seeds():
        for mutate, values in MUTATIONS:
            for value in values:
                variant = copy.deepcopy(seed)
                mutate(variant, value)
                yield variant
        for _ in range(10):  # a few mutations at once
            variant = copy.deepcopy(seed)
            for mutate, values in rng.sample(MUTATIONS, 3):
                mutate(variant, rng.choice(values))
            for key in rng.sample(["careTeam", "provider", "item", "type", "identifier"], 2):
                variant.pop(key, None)
            yield variant


def test_odd_but_valid_claims_always_map_to_a_schema_valid_submission() -> None:
    mapped = refused = 0
    for variant in variants():
        try:
            parsed = parse_body(orjson.dumps(variant), Syntax.JSON)
        except StructureError:
            refused += 1  # not structurally valid R4: answered 422, which is right
            continue
        submission, problems = map_submission(parsed, "C-1")
        parse_valid(orjson.dumps(submission), Format.JSON)
        assert len(problems) == len(submission["documents"]) == 1
        mapped += 1
    assert mapped > 4 * refused  # most variants are valid R4 (refused: required parts removed)


@pytest.mark.parametrize("value", ["x" * 5000, "\t\n", "0" * 10])
def test_odd_identifiers_in_our_systems_are_problems(value: str) -> None:
    resource = claim(value, [item(1, "970000", 1, 10)])
    resource["contained"][0]["identifier"][1]["value"] = value
    resource["contained"][1]["identifier"][0]["value"] = value
    try:
        parsed = parse_body(orjson.dumps(resource), Syntax.JSON)
    except StructureError:
        return
    submission, problems = map_submission(parsed, "C-1")
    parse_valid(orjson.dumps(submission), Format.JSON)
    assert problems[0]
