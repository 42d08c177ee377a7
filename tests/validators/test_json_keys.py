"""Repeated JSON keys are found and located; bodies without them pass untouched."""

from __future__ import annotations

import orjson
import pytest

from validators.jsonkeys import duplicate_key
from validators.schema import claim_schema


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (b'{"a":1,"a":2}', "/a"),
        (b'{"a" : 1, "b": {"c": [1, {"d": 1, "d" :2}]}}', "/b/c/1/d"),
        (b'{"x/y~z": {"k": 1, "k": {}}}', "/x~1y~0z/k"),
        (b'[[], {"k": 1, "k": 2}]', "/1/k"),
    ],
)
def test_a_repeated_key_is_named_with_its_pointer(text: bytes, path: str) -> None:
    problem = duplicate_key(text, orjson.loads(text))
    assert problem is not None
    assert (problem.code, problem.path) == ("json.duplicate-key", path)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": "he said \\": no", "b": "x\\":y"}',  # colons after quotes inside strings
        b'{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}',  # same key, other objects
        b"{}",
    ],
)
def test_no_false_alarm(text: bytes) -> None:
    assert duplicate_key(text, orjson.loads(text)) is None


def test_the_schema_check_refuses_a_repeated_key() -> None:
    result = claim_schema().check_json(b'{"schemaVersion": "1", "schemaVersion": "1"}')
    assert [p.code for p in result.problems] == ["json.duplicate-key"]
    assert result.root is None
