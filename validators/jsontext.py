"""Writes a JSON submission out as the XML the XSD describes, one element per line.

libxml2 then parses and validates it at C speed, and each error's line number leads
straight back to a JSON pointer (``pointers[line - 1]``). Misfits the XSD cannot see (a
JSON value of the wrong type, an unknown key, a choice item that is not a one-key
object) are reported here, with their pointers; what they concern is left out or
written so that the schema reports nothing twice.

Line pointers are only needed to map schema errors back, so a first writing can skip
them (``pointers=False``) and the rare invalid document be written again with them: the
text is the same either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson

from validators.jsonplan import ARRAY, OBJECT, SIMPLE, PlanNode
from validators.problems import Problem

# Characters XML 1.0 cannot carry, even escaped; and those that must be escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff&<>"]')
_NUMERIC = ("integer", "number")
_EXPECTED = {"string": "a string", "integer": "an integer", "number": "a number",
             "boolean": "a boolean"}  # fmt: skip
_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return _KIND_NAMES.get(type(value), type(value).__name__)


def _escape_segment(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


_ESCAPE_MARKS = (b"\\", b"&", b"<", b">", b"\xef")


def strings_are_plain(data: bytes) -> bool:
    """True when no string of this JSON text can need escaping or be refused as XML text.

    A string can only hold &, <, > or a character XML cannot carry through one of these
    bytes: the character itself, a backslash escape (a quote, a control character, a lone
    surrogate) or the lead byte of U+FFFE/U+FFFF in UTF-8; a raw control character or a
    raw surrogate is not valid JSON at all. A false alarm only costs the per-string check.
    """
    return not any(mark in data for mark in _ESCAPE_MARKS)


@dataclass(frozen=True, slots=True)
class _FlatTemplate:
    """How to write an object of simple fields whose keys come in one given order."""

    text: str  # the whole element, a %s for each present field's text, in plan order
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]  # the values, in plan order
    types: tuple[type, ...]  # the JSON types the template writes unchanged, in plan order
    suffixes: tuple[str, ...]  # each written field's pointer step, in plan order


_MAX_TEMPLATES = 64  # key orders remembered per object type


def _flat_template(node: PlanNode, keys: tuple[str, ...]) -> _FlatTemplate | None:
    """None when a key is not one of the node's fields (the general path reports it)."""
    if any(key not in node.by_name for key in keys):
        return None
    present = [slot for slot in node.children if slot.name in keys]
    names = [slot.name for slot in present]
    fields = "".join(f"\n<{name}>%s</{name}>" for name in names)
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]
    if len(names) > 1:
        pick = itemgetter(*names)
    else:
        pick = lambda value: tuple(value[name] for name in names)  # noqa: E731
    return _FlatTemplate(
        text=f"\n<{node.name}>{fields}</{node.name}>",
        pick=pick,
        types=tuple(str if slot.node.json_type == "string" else int for slot in present),
        suffixes=tuple(f"/{name}" for name in names),
    )


class JsonTextBuilder:
    """One pass over a JSON submission, following the plan derived from the XSD.

    ``plain_strings``: the caller has found (strings_are_plain) that no string needs
    escaping. ``pointers``: record each line's JSON pointer.
    """

    def __init__(
        self, namespace: str, *, plain_strings: bool = False, pointers: bool = True
    ) -> None:
        self.namespace = namespace
        self.plain_strings = plain_strings
        self.track = pointers
        self.parts: list[str] = []
        self.pointers: list[str] = []
        self.problems: list[Problem] = []

    def build(self, plan: PlanNode, value: dict[str, Any]) -> bytes:
        attributes = self._attributes(plan, value, "")
        self.parts.append(f'<{plan.name} xmlns="{self.namespace}"{attributes}>')
        if self.track:
            self.pointers.append("")
        self._children(plan, value, "")
        self.parts.append(f"</{plan.name}>")
        return "".join(self.parts).encode()

    def _problem(self, code: str, message: str, pointer: str) -> None:
        self.problems.append(Problem(code, message, pointer))

    def _text(self, node: PlanNode, value: Any, pointer: str) -> str:
        kind, vtype = node.json_type, type(value)
        if kind == "string" and vtype is str:
            text: str = value
        elif (kind == "integer" and vtype is int) or (kind == "number" and vtype in (int, float)):
            return str(value)
        elif kind == "boolean" and vtype is bool:
            return "true" if value else "false"
        else:
            self._problem(
                "json.type", f"Expected {_EXPECTED[kind]}, got {_json_kind(value)}.", pointer
            )
            if isinstance(value, dict | list):
                return ""
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if not _SPECIAL.search(text):
            return text
        if _NOT_XML.search(text):
            self._problem(
                "json.invalid-text", "The text holds characters XML cannot carry.", pointer
            )
            return ""
        return (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
        )

    def _attributes(self, node: PlanNode, value: dict[str, Any], pointer: str) -> str:
        out = ""
        for name, attribute in node.attributes.items():
            raw = value.get(name)
            if raw is not None:
                out += f' {name}="{self._text(attribute, raw, f"{pointer}/{name}")}"'
        return out

    def _element(self, node: PlanNode, value: Any, pointer: str) -> None:
        shape = node.shape
        if self.track:
            self.pointers.append(pointer)
        if node.flat and type(value) is dict and self._flat(node, value, pointer):
            return
        if shape == SIMPLE:
            self.parts.append(f"\n<{node.name}>{self._text(node, value, pointer)}</{node.name}>")
            return
        if shape == OBJECT:
            if not isinstance(value, dict):
                self._problem("json.type", f"Expected an object, got {_json_kind(value)}.", pointer)
                self.parts.append(f"\n<{node.name}/>")
                return
            attributes = self._attributes(node, value, pointer) if node.attributes else ""
            self.parts.append(f"\n<{node.name}{attributes}>")
            self._children(node, value, pointer)
        elif not isinstance(value, list):
            self._problem("json.type", f"Expected an array, got {_json_kind(value)}.", pointer)
            self.parts.append(f"\n<{node.name}/>")
            return
        else:
            self.parts.append(f"\n<{node.name}>")
            if shape == ARRAY:
                item = node.item
                assert item is not None
                if not (item.flat and self._flat_items(item, value)):
                    for index, entry in enumerate(value):
                        self._element(item, entry, f"{pointer}/{index}")
            else:
                for index, entry in enumerate(value):
                    self._choice(node, entry, f"{pointer}/{index}")
        self.parts.append(f"</{node.name}>")

    def _choice(self, node: PlanNode, entry: Any, pointer: str) -> None:
        names = ", ".join(node.choices)
        if not isinstance(entry, dict) or len(entry) != 1:
            self._problem(
                "json.type", f"Expected an object with exactly one key, one of: {names}.", pointer
            )
            return
        ((name, value),) = entry.items()
        chosen = node.choices.get(name)
        if chosen is None:
            self._problem(
                "schema.unexpected-element", f"'{name}' is not expected; one of: {names}.", pointer
            )
            return
        self._element(chosen, value, f"{pointer}/{_escape_segment(name)}")

    def _template(self, node: PlanNode, keys: tuple[str, ...]) -> _FlatTemplate | None:
        template: _FlatTemplate | None = node.templates.get(keys)
        if template is None and keys not in node.templates:
            if len(node.templates) >= _MAX_TEMPLATES:
                return None
            template = node.templates[keys] = _flat_template(node, keys)
        return template

    def _flat(self, node: PlanNode, value: dict[str, Any], pointer: str) -> bool:
        """Writes an object of simple fields whole; False, having written nothing, when a
        key or a value needs the general path (which reports what is wrong)."""
        template = self._template(node, tuple(value))
        if template is None:
            return False
        values = template.pick(value)
        if tuple(map(type, values)) != template.types:
            return False
        if not self.plain_strings and any(_SPECIAL.search(v) for v in values if type(v) is str):
            return False
        self.parts.append(template.text % values)
        if self.track:
            self.pointers.extend([pointer + suffix for suffix in template.suffixes])
        return True

    def _flat_items(self, node: PlanNode, entries: list[Any]) -> bool:
        """Writes an array of objects of simple fields that all have the first one's keys
        in one go; False, having written nothing, when any needs the general path."""
        if self.track or not self.plain_strings or not entries or type(entries[0]) is not dict:
            return False
        template = self._template(node, tuple(entries[0]))
        if template is None or not template.types:
            return False
        try:
            rows = list(map(template.pick, entries))
        except (KeyError, TypeError):  # an entry that is not an object or lacks a key
            return False
        if set(map(len, entries)) != {len(template.types)}:  # or has another key
            return False
        values = tuple(chain.from_iterable(rows))
        if tuple(map(type, values)) != template.types * len(rows):
            return False
        self.parts.append((template.text * len(rows)) % values)
        return True

    def _children(self, node: PlanNode, value: dict[str, Any], pointer: str) -> None:
        used = sum(1 for name in node.attributes if name in value)
        parts, pointers, track = self.parts, self.pointers, self.track
        plain = self.plain_strings
        for slot in node.children:
            name = slot.name
            item = value.get(name)
            if item is None:
                used += name in value
                continue
            used += 1
            child = slot.node
            if child.shape == SIMPLE and not slot.repeated:
                # The common case, inline: a string without specials, or an integer.
                kind, vtype = child.json_type, type(item)
                if vtype is str and kind == "string" and (plain or not _SPECIAL.search(item)):
                    text = item
                elif vtype is int and kind in _NUMERIC:
                    text = str(item)
                else:
                    text = self._text(child, item, f"{pointer}/{name}")
                if track:
                    pointers.append(f"{pointer}/{name}")
                parts.append(f"\n<{name}>{text}</{name}>")
                continue
            here = f"{pointer}/{name}"
            if not slot.repeated:
                self._element(slot.node, item, here)
            elif isinstance(item, list):
                for index, entry in enumerate(item):
                    self._element(slot.node, entry, f"{here}/{index}")
            else:
                self._problem("json.type", f"Expected an array, got {_json_kind(item)}.", here)
        if used != len(value):
            allowed = ", ".join([*node.attributes, *node.by_name])
            for key in value:
                if key not in node.by_name and key not in node.attributes:
                    self._problem(
                        "schema.unexpected-element",
                        f"Field '{key}' is not expected here; allowed: {allowed}.",
                        f"{pointer}/{_escape_segment(key)}",
                    )
