"""A JSON shape derived from an XSD, so JSON can be validated by the same schema.

The rules, applied to every element declaration reachable from the root:
- an element of simple type is a JSON scalar whose JSON type follows the XSD type
  (integers and decimals are numbers, booleans are true/false, everything else a string);
- an element of complex type is an object whose keys are its attributes' and children's
  local names; a child that may repeat is an array;
- a wrapper whose whole content is one repeatable element is an array of that element's
  values, and one whose content is one repeatable choice is an array of one-key objects
  naming the chosen element.
The plan is built once with xmlschema, which exposes the XSD's components.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xmlschema

SIMPLE, OBJECT, ARRAY, CHOICE_ARRAY = 0, 1, 2, 3
_XSD = "{http://www.w3.org/2001/XMLSchema}"
_TEMPLATE_TYPES = ("string", "integer", "number")


@dataclass(slots=True, eq=False)
class PlanNode:
    tag: str
    name: str
    shape: int
    json_type: str = "string"
    children: list[Slot] = field(default_factory=list)
    by_name: dict[str, Slot] = field(default_factory=dict)
    attributes: dict[str, PlanNode] = field(default_factory=dict)
    item: PlanNode | None = None
    choices: dict[str, PlanNode] = field(default_factory=dict)
    # An object of strings and integers only: JsonTextBuilder may write it from a template.
    flat: bool = False
    templates: dict[tuple[str, ...], Any] = field(default_factory=dict)
    # What validators/jsonfast.py compiles its checks from: the XSD simple type of a
    # simple node or attribute, an attribute's use and fixed value, and the occurrences
    # of an array's items (its element, or its choice).
    xsd_type: Any = None
    required: bool = False
    fixed: str | None = None
    min_items: int = 1
    max_items: int | None = 1


@dataclass(slots=True, eq=False)
class Slot:
    name: str
    node: PlanNode
    repeated: bool
    min_occurs: int = 1
    max_occurs: int | None = 1


def build_plan(xsd_path: Path, root_name: str) -> PlanNode:
    schema = xmlschema.XMLSchema10(str(xsd_path))
    return _node_for(schema.elements[root_name])


def _json_type(xsd_type: Any) -> str:
    names: set[str] = set()
    current = xsd_type
    while current is not None:
        if current.name:
            names.add(current.name)
        current = getattr(current, "base_type", None)
    if _XSD + "boolean" in names:
        return "boolean"
    if _XSD + "integer" in names:
        return "integer"
    if names & {_XSD + "decimal", _XSD + "float", _XSD + "double"}:
        return "number"
    return "string"


def _repeats(particle: Any) -> bool:
    return particle.max_occurs is None or particle.max_occurs > 1


def _flatten(group: Any) -> list[Any]:
    """The particles of a group, with nested once-only sequences opened up."""
    particles: list[Any] = []
    for particle in group:
        is_group = isinstance(particle, xmlschema.validators.XsdGroup)
        if is_group and particle.model == "sequence" and not _repeats(particle):
            particles.extend(_flatten(particle))
        else:
            particles.append(particle)
    return particles


def _node_for(decl: Any) -> PlanNode:
    xsd_type = decl.type
    name = decl.local_name
    if xsd_type.is_simple() or xsd_type.has_simple_content():
        return PlanNode(decl.name, name, SIMPLE, _json_type(xsd_type), xsd_type=xsd_type)
    content = xsd_type.content
    particles = [content] if _repeats(content) else _flatten(content)
    attributes = {
        attr.local_name: PlanNode(
            attr.name,
            attr.local_name,
            SIMPLE,
            _json_type(attr.type),
            xsd_type=attr.type,
            required=attr.use == "required",
            fixed=attr.fixed,
        )
        for attr in xsd_type.attributes.values()
    }
    if len(particles) == 1 and _repeats(particles[0]) and not attributes:
        only = particles[0]
        if isinstance(only, xmlschema.validators.XsdGroup) and only.model == "choice":
            choices = {str(child.local_name): _node_for(child) for child in only}
            if any(_repeats(child) or child.min_occurs != 1 for child in only):
                raise ValueError(f"{name}: a choice of repeated or optional elements")
            return PlanNode(
                decl.name,
                name,
                CHOICE_ARRAY,
                choices=choices,
                min_items=only.min_occurs,
                max_items=only.max_occurs,
            )
        if not isinstance(only, xmlschema.validators.XsdGroup):
            return PlanNode(
                decl.name,
                name,
                ARRAY,
                item=_node_for(only),
                min_items=only.min_occurs,
                max_items=only.max_occurs,
            )
    node = PlanNode(decl.name, name, OBJECT, attributes=attributes)
    for particle in particles:
        if isinstance(particle, xmlschema.validators.XsdGroup):
            raise ValueError(f"{name}: nested groups are outside the JSON mapping rules")
        slot = Slot(
            particle.local_name,
            _node_for(particle),
            _repeats(particle),
            particle.min_occurs,
            particle.max_occurs,
        )
        node.children.append(slot)
        node.by_name[slot.name] = slot
    node.flat = not attributes and all(
        s.node.shape == SIMPLE and not s.repeated and s.node.json_type in _TEMPLATE_TYPES
        for s in node.children
    )
    return node
