"""The JSON Schema of a submission's JSON form, derived at start-up from the one XSD.

It follows validators/jsonplan.py, the plan the JSON validator itself walks, so the
OpenAPI document can never describe a JSON shape the gateway would refuse. Facets are
carried over where JSON Schema has the same notion (enumerations, lengths, bounds,
patterns, anchored as XSD patterns implicitly are); anything else the XSD checks is left
to the XSD, named in the schema's description.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from validators.jsonplan import ARRAY, CHOICE_ARRAY, OBJECT, PlanNode, Slot
from validators.schema import CLAIM_XSD, claim_schema

_XSD = "{http://www.w3.org/2001/XMLSchema}"
_FORMATS = {"date": "date", "dateTime": "date-time"}
_BOUNDS = {
    "minLength": "minLength",
    "maxLength": "maxLength",
    "minInclusive": "minimum",
    "maxInclusive": "maximum",
}
XSD_NAME = CLAIM_XSD.name


def _facets(xsd_type: Any) -> dict[str, Any]:
    """What JSON Schema can say of an XSD simple type; the nearest restriction wins."""
    out: dict[str, Any] = {}
    current = xsd_type
    while current is not None:
        local = (current.name or "").removeprefix(_XSD)
        if current.name and current.name.startswith(_XSD) and local in _FORMATS:
            out.setdefault("format", _FORMATS[local])
        for name, facet in (getattr(current, "facets", None) or {}).items():
            key = _BOUNDS.get((name or "").removeprefix(_XSD))
            value = getattr(facet, "value", None)
            if key and value is not None:
                out.setdefault(key, int(value))
        enumeration = getattr(current, "enumeration", None)
        if enumeration:
            out.setdefault("enum", list(enumeration))
        patterns = getattr(current, "patterns", None)
        if patterns and "pattern" not in out:
            out["pattern"] = "^(?:" + ")$|^(?:".join(patterns.regexps) + ")$"
        current = getattr(current, "base_type", None)
    return out


def _simple(node: PlanNode) -> dict[str, Any]:
    out: dict[str, Any] = {"type": node.json_type}
    if node.xsd_type is not None:
        out |= _facets(node.xsd_type)
    if node.json_type != "string":
        out.pop("pattern", None)
        out.pop("format", None)
    if node.fixed is not None:
        out["const"] = int(node.fixed) if node.json_type == "integer" else node.fixed
    return out


def _items(schema: dict[str, Any], low: int, high: int | None) -> dict[str, Any]:
    out = {"type": "array", "items": schema, "minItems": low}
    if high is not None:
        out["maxItems"] = high
    return out


def _slot(slot: Slot) -> dict[str, Any]:
    schema = node_schema(slot.node)
    return _items(schema, slot.min_occurs, slot.max_occurs) if slot.repeated else schema


def node_schema(node: PlanNode) -> dict[str, Any]:
    """The JSON Schema of one plan node (and everything under it)."""
    if node.shape == ARRAY:
        assert node.item is not None
        return _items(node_schema(node.item), node.min_items, node.max_items)
    if node.shape == CHOICE_ARRAY:
        one_of = [
            {
                "type": "object",
                "properties": {name: node_schema(choice)},
                "required": [name],
                "additionalProperties": False,
            }
            for name, choice in node.choices.items()
        ]
        return _items({"oneOf": one_of}, node.min_items, node.max_items)
    if node.shape != OBJECT:
        return _simple(node)
    properties = {name: _simple(attr) for name, attr in node.attributes.items()}
    required = [name for name, attr in node.attributes.items() if attr.required]
    for slot in node.children:
        properties[slot.name] = _slot(slot)
        if slot.min_occurs > 0:
            required.append(slot.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@cache
def submission_json_schema() -> dict[str, Any]:
    """The submission's JSON form, with the XSD it is derived from named."""
    schema = node_schema(claim_schema().plan)
    schema["title"] = "Submission (JSON form)"
    schema["description"] = (
        f"Derived from {XSD_NAME} (namespace-free: elements and attributes become keys, "
        "repeatable elements arrays); a body valid here is checked against that XSD too."
    )
    return schema
