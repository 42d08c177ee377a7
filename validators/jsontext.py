"""Writes a JSON submission out as the XML the XSD describes, one element per line.

libxml2 then parses and validates it at C speed, and each error's line number leads
straight back to a JSON pointer (``pointers[line - 1]``). Misfits the XSD cannot see (a
JSON value of the wrong type, an unknown key, a choice item that is not a one-key
object) are reported here, with their pointers; what they concern is left out or
written so that the schema reports nothing twice.
"""

from __future__ import annotations

import re
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


class JsonTextBuilder:
    """One pass over a JSON submission, following the plan derived from the XSD."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.parts: list[str] = []
        self.pointers: list[str] = []
        self.problems: list[Problem] = []

    def build(self, plan: PlanNode, value: dict[str, Any]) -> bytes:
        attributes = self._attributes(plan, value, "")
        self.parts.append(f'<{plan.name} xmlns="{self.namespace}"{attributes}>')
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
        self.pointers.append(pointer)
        if shape == SIMPLE:
            self.parts.append(f"\n<{node.name}>{self._text(node, value, pointer)}</{node.name}>")
            return
        if shape == OBJECT:
            if not isinstance(value, dict):
                self._problem("json.type", f"Expected an object, got {_json_kind(value)}.", pointer)
                self.parts.append(f"\n<{node.name}/>")
                return
            self.parts.append(f"\n<{node.name}{self._attributes(node, value, pointer)}>")
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

    def _children(self, node: PlanNode, value: dict[str, Any], pointer: str) -> None:
        used = sum(1 for name in node.attributes if name in value)
        parts, pointers = self.parts, self.pointers
        for slot in node.children:
            name = slot.name
            item = value.get(name)
            if item is None:
                used += name in value
                continue
            used += 1
            here = f"{pointer}/{name}"
            child = slot.node
            if child.shape == SIMPLE and not slot.repeated:
                # The common case, inline: a string without specials, or an integer.
                kind, vtype = child.json_type, type(item)
                if vtype is str and kind == "string" and not _SPECIAL.search(item):
                    text = item
                elif vtype is int and kind in _NUMERIC:
                    text = str(item)
                else:
                    text = self._text(child, item, here)
                pointers.append(here)
                parts.append(f"\n<{name}>{text}</{name}>")
            elif not slot.repeated:
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
