"""Duplicate keys in a JSON text: refused, since parsers disagree on which value wins.

orjson keeps the last value of a repeated key without a word, and another reader of the
stored body (an auditor's tool, a replay) may keep the first: the same bytes would then
mean two different claims. The gateway refuses them instead (``json.duplicate-key``).

The check costs a few microseconds on a typical body: the keys of the parsed value are
counted and compared with the places in the text where a string is followed by a colon.
Every key is such a place, so equal counts prove that no key was lost to a repeat; only
when the text has more such places (a repeat, or a string value holding ``":``) is the
text read again, event by event, to find the repeated key and its JSON pointer.
"""

from __future__ import annotations

import json
import re
from typing import Any

import ijson

from validators.problems import Problem

_KEY_END = re.compile(rb'"\s*:')
_SPACED_KEY_END = re.compile(rb'"\s+:')


def _count_keys(value: Any) -> int:
    """Keys of every object in a parsed JSON value (iterative: depth cannot overflow)."""
    count = 0
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if type(node) is dict:
            count += len(node)
            node = node.values()
        for item in node:
            if type(item) is dict or type(item) is list:
                push(item)
    return count


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _find_repeat(data: bytes) -> Problem | None:
    """The first repeated key of the text, located by its JSON pointer."""
    frames: list[set[str] | list[int]] = []  # per open container: keys seen, or [index]
    segments: list[str] = []
    for _, event, value in ijson.parse(data, use_float=True):
        frame = frames[-1] if frames else None
        if event == "map_key":
            assert isinstance(frame, set)
            if value in frame:
                pointer = "".join(f"/{_escape(s)}" for s in segments)
                where = f"the object at '{pointer}'" if pointer else "the top-level object"
                return Problem(
                    "json.duplicate-key",
                    f"The key '{value[:100]}' appears more than once in {where}; "
                    "each key may appear only once.",
                    f"{pointer}/{_escape(value)}",
                )
            frame.add(value)
            segments.append(value)
            continue
        if isinstance(frame, list) and event != "end_array":  # an item starts
            segments.append(str(frame[0]))
            frame[0] += 1
        if event == "start_map":
            frames.append(set())
        elif event == "start_array":
            frames.append([0])
        elif event in ("end_map", "end_array"):
            frames.pop()
            if segments:
                segments.pop()
        elif segments:
            segments.pop()  # a scalar ends its own step
    return None


def duplicate_key(data: bytes, value: Any) -> Problem | None:
    """A problem naming a key repeated within one object of ``data``, else None.

    ``value`` is ``data`` as already parsed (repeats collapsed).
    """
    # A quote right before a colon ends most keys (orjson and most writers put no space
    # there); counting those is a third of the cost of the general pattern's matches.
    tight = data.count(b'":')
    if tight == _count_keys(value) and _SPACED_KEY_END.search(data) is None:
        return None
    if len(_KEY_END.findall(data)) == _count_keys(value):
        return None
    try:
        return _find_repeat(data)
    except (ijson.JSONError, ValueError):
        return _find_repeat_plainly(data)


def _find_repeat_plainly(data: bytes) -> Problem | None:
    """The same check through the standard library, without a location."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise _Repeated
        return dict(items)

    try:
        json.loads(data, object_pairs_hook=pairs)
    except _Repeated:
        return Problem("json.duplicate-key", "A key appears more than once in one object.", None)
    except (ValueError, RecursionError):
        return None
    return None


class _Repeated(Exception):
    pass
