"""Schema validation of XML and JSON submissions against the one XSD.

XML is parsed with libxml2 locked down (no DTD, no entities, no network, bounded depth)
and validated by lxml. JSON is not checked against a second model: a plan derived once
from the same XSD is compiled into a quick check that accepts only what the XSD accepts
(validators/jsonfast.py); a body it does not accept is turned by the plan into an
element tree, which the same compiled lxml schema validates, and errors on that tree
are mapped back to JSON pointers.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from validators.jsonfast import compile_plan
from validators.jsonkeys import duplicate_key
from validators.jsonplan import ARRAY, CHOICE_ARRAY, PlanNode, build_plan
from validators.jsontext import JsonTextBuilder, strings_are_plain
from validators.problems import Problem

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
CLAIM_XSD = SCHEMA_DIR / "rasa-claim-1.xsd"
NAMESPACE = "urn:rasa-gateway:claim:1"
_NS_PREFIX = "{" + NAMESPACE + "}"


class Format(StrEnum):
    XML = "xml"
    JSON = "json"


@dataclass(slots=True)
class SchemaResult:
    """A parsed submission tree, or the problems that stop it (``root`` is None then).

    A JSON submission the quick check accepted has no tree until ``root`` is asked for
    (``make_tree`` writes it then): reading it goes through ``source`` instead."""

    format: Format
    tree: etree._Element | None
    problems: list[Problem] = field(default_factory=list)
    source: Any = None  # the parsed JSON object, for JSON input
    make_tree: Callable[[], etree._Element] | None = None

    @property
    def root(self) -> etree._Element | None:
        if self.tree is None and self.make_tree is not None:
            self.tree, self.make_tree = self.make_tree(), None
        return self.tree

    @property
    def parsed(self) -> bool:
        """The body could be read as a submission tree (valid or not)."""
        return self.tree is not None or self.make_tree is not None

    @property
    def ok(self) -> bool:
        return self.parsed and not self.problems


_FACET_CODES = {
    "SCHEMAV_CVC_PATTERN_VALID": "schema.pattern",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "schema.out-of-range",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "schema.out-of-range",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "schema.out-of-range",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "schema.out-of-range",
    "SCHEMAV_CVC_LENGTH_VALID": "schema.length",
    "SCHEMAV_CVC_MINLENGTH_VALID": "schema.length",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "schema.length",
    "SCHEMAV_CVC_ENUMERATION_VALID": "schema.enumeration",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "schema.invalid-value",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "schema.invalid-value",
}
_OTHER_CODES = {
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "schema.invalid-value",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "schema.unexpected-attribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "schema.unexpected-attribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_4": "schema.missing-attribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "schema.unexpected-text",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "schema.unexpected-element",
    "SCHEMAV_CVC_ELT_1": "schema.unknown-root",
    "SCHEMAV_CVC_AU": "schema.fixed-value",
    "SCHEMAV_CVC_ELT_5_2_2": "schema.fixed-value",
}


def _schema_code(type_name: str, message: str) -> str:
    if type_name == "SCHEMAV_ELEMENT_CONTENT":
        if "Missing child element" in message:
            return "schema.missing-element"
        return "schema.unexpected-element"
    return _FACET_CODES.get(type_name) or _OTHER_CODES.get(type_name, "schema.invalid")


_DOCTYPE_PROBLEM = Problem(
    "xml.doctype-forbidden",
    "A DOCTYPE is not allowed: DTDs and entities are refused for safety.",
    None,
    1,
)
_DOCTYPE_MARKS = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))


def _declares_doctype(data: bytes) -> bool:
    head = data[:8192]
    return any(mark in head for mark in _DOCTYPE_MARKS)


def safe_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """libxml2 locked down: no DTD, no entity expansion, no network, bounded depth."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        remove_blank_text=remove_blank_text,
    )


class ClaimSchema:
    """The compiled claim XSD with everything needed to check XML and JSON against it."""

    def __init__(self, xsd_path: Path = CLAIM_XSD) -> None:
        schema_doc = etree.parse(str(xsd_path), parser=safe_parser())
        self._schema = etree.XMLSchema(schema_doc)
        self.plan: PlanNode = build_plan(xsd_path, "submission")
        self._accepts = compile_plan(self.plan)
        self._local = threading.local()

    # -- entry points -------------------------------------------------------------

    def check(self, data: bytes, fmt: Format) -> SchemaResult:
        return self.check_xml(data) if fmt is Format.XML else self.check_json(data)

    def check_xml(self, data: bytes) -> SchemaResult:
        if not data.strip():
            return SchemaResult(Format.XML, None, [Problem("body.empty", "The body is empty.")])
        try:
            root = etree.fromstring(data, parser=self._parser())
        except etree.XMLSyntaxError as exc:
            if _declares_doctype(data):
                return SchemaResult(Format.XML, None, [_DOCTYPE_PROBLEM])
            line = exc.lineno if exc.lineno else None
            message = f"The XML is not well-formed: {exc.msg}"
            return SchemaResult(Format.XML, None, [Problem("xml.malformed", message, None, line)])
        docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
        if docinfo.doctype or docinfo.internalDTD is not None:
            return SchemaResult(Format.XML, None, [_DOCTYPE_PROBLEM])
        return SchemaResult(Format.XML, root, self._validate(root, Format.XML))

    def check_json(self, data: bytes) -> SchemaResult:
        if not data.strip():
            return SchemaResult(Format.JSON, None, [Problem("body.empty", "The body is empty.")])
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            problem = Problem(
                "json.malformed", f"The JSON is not valid: {exc.msg}", None, exc.lineno
            )
            return SchemaResult(Format.JSON, None, [problem])
        if not isinstance(value, dict):
            message = "The JSON body must be an object (the content of a submission)."
            return SchemaResult(Format.JSON, None, [Problem("json.type", message, "")])
        repeated = duplicate_key(data, value)
        if repeated is not None:
            return SchemaResult(Format.JSON, None, [repeated])
        plain = strings_are_plain(data)
        if plain and self._accepts(value):
            # Valid (the quick check says yes only to what the XSD accepts); the tree is
            # written only if someone asks for it.
            return SchemaResult(Format.JSON, None, [], value, lambda: self._tree_of(value))
        builder = JsonTextBuilder(NAMESPACE, plain_strings=plain, pointers=False)
        text = builder.build(self.plan, value)
        if not builder.problems:
            # The newlines between elements are there to map errors back by line; a valid
            # document does without them as nodes (fewer to build, validate and free).
            root = etree.fromstring(text, parser=self._parser(blank_text=False))
            if self._schema.validate(root):
                return SchemaResult(Format.JSON, root, [], value)
        # Not valid: parsed as written, and written again to the same text with the
        # pointer of every line, so that each error maps back to its JSON pointer.
        root = etree.fromstring(text, parser=self._parser())
        builder = JsonTextBuilder(NAMESPACE, plain_strings=plain)
        builder.build(self.plan, value)
        problems = builder.problems
        schema_problems = self._validate(root, Format.JSON, builder.pointers)
        problems.extend(_without_echoes(problems, schema_problems))
        return SchemaResult(Format.JSON, root, problems, value)

    def exact_json_check(self, value: dict[str, Any]) -> bool:
        """libxml2's verdict on a JSON object, through the XML text (no quick check)."""
        builder = JsonTextBuilder(NAMESPACE, pointers=False)
        text = builder.build(self.plan, value)
        if builder.problems:
            return False
        return bool(self._schema.validate(etree.fromstring(text, parser=self._parser())))

    def quick_json_check(self, value: dict[str, Any]) -> bool:
        """The quick check as check_json applies it: on plain strings only."""
        return strings_are_plain(orjson.dumps(value)) and self._accepts(value)

    # -- internals ----------------------------------------------------------------

    def _tree_of(self, value: dict[str, Any]) -> etree._Element:
        text = JsonTextBuilder(NAMESPACE, pointers=False).build(self.plan, value)
        return etree.fromstring(text, parser=self._parser(blank_text=False))

    def _parser(self, *, blank_text: bool = True) -> etree.XMLParser:
        name = "parser" if blank_text else "parser_without_blanks"
        parser: etree.XMLParser | None = getattr(self._local, name, None)
        if parser is None:
            parser = safe_parser(remove_blank_text=not blank_text)
            setattr(self._local, name, parser)
        return parser

    def _validate(
        self, root: etree._Element, fmt: Format, pointers: list[str] | None = None
    ) -> list[Problem]:
        if self._schema.validate(root):
            return []
        problems: list[Problem] = []
        facet_paths: set[str] = set()
        entries: Any = self._schema.error_log  # iterable at run time; the stubs say otherwise
        for entry in entries:
            code = _schema_code(entry.type_name, entry.message)
            if code == "schema.invalid-value" and entry.path in facet_paths:
                continue  # libxml2 repeats a facet failure as a generic datatype failure
            if entry.type_name in _FACET_CODES:
                facet_paths.add(entry.path)
            message = _clipped(entry.message.replace(_NS_PREFIX, ""))
            if code == "schema.unknown-root":
                message += f' The root must be <submission xmlns="{NAMESPACE}">.'
            element = _element_at(root, entry.path)
            if code == "schema.unexpected-element" and element is not None:
                code, message, element = self._missing_instead(element, code, message)
            path = None
            if element is not None:
                path = xpath_of(element) if fmt is Format.XML else _pointer_at(element, pointers)
                attribute = _ATTRIBUTE.search(message)
                if attribute and code.endswith(("-attribute", "fixed-value")):
                    step = "@" if fmt is Format.XML else ""
                    path += f"/{step}{attribute.group(1)}"
            line = entry.line if fmt is Format.XML else None
            problems.append(Problem(code, message, path, line))
        return problems

    def _missing_instead(
        self, element: etree._Element, code: str, message: str
    ) -> tuple[str, str, etree._Element]:
        """libxml2 reports a missing element as the next one being unexpected; say what is."""
        parent = element.getparent()
        found = etree.QName(element).localname
        match = _EXPECTED_NAMES.search(message)
        if parent is None or match is None:
            return code, message, element
        expected = [name.strip() for name in match.group(1).split(",")]
        _, node = self._plan_path(parent)
        if node is None or found in expected or found not in node.by_name:
            return code, message, element
        wanted = " or ".join(expected)
        return "schema.missing-element", f"Missing {wanted} (found {found} first).", parent

    def _plan_path(self, element: etree._Element) -> tuple[list[str], PlanNode | None]:
        """The JSON pointer segments of an element and its plan node (None if off-plan)."""
        chain = [element, *element.iterancestors()]
        chain.reverse()
        node: PlanNode | None = self.plan
        segments: list[str] = []
        for parent, child in itertools.pairwise(chain):
            name = etree.QName(child).localname
            if node is None:
                segments.append(name)
            elif node.shape == ARRAY:
                segments.append(str(_array_index(parent, child)))
                node = node.item
            elif node.shape == CHOICE_ARRAY:
                segments += [str(_array_index(parent, child)), name]
                node = node.choices.get(name)
            else:
                slot = node.by_name.get(name)
                segments.append(name)
                if slot is not None and slot.repeated:
                    segments.append(str(_same_tag_index(child)))
                node = slot.node if slot is not None else None
        return segments, node

    def pointer_of(self, element: etree._Element) -> str:
        """The JSON pointer of an element of a tree built from JSON."""
        segments, _ = self._plan_path(element)
        return "".join("/" + _escape_pointer(s) for s in segments)


_ATTRIBUTE = re.compile(r"attribute '([^']+)'")
_EXPECTED_NAMES = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")


_MAX_MESSAGE = 400  # libxml2 quotes the offending value whole: a huge one stays out


def _clipped(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return message[: _MAX_MESSAGE - 20] + f"... ({len(message)} characters)"


_MAX_LINE = 65535  # libxml2 keeps element line numbers in 16 bits


def _array_index(parent: etree._Element, child: etree._Element) -> int:
    return parent.index(child)


def _pointer_at(element: etree._Element, pointers: list[str] | None) -> str:
    """The JSON pointer of an element of a tree written by JsonTextBuilder (one per line)."""
    line = element.sourceline
    if pointers and isinstance(line, int) and 0 < line <= len(pointers) < _MAX_LINE:
        return pointers[line - 1]
    return claim_schema().pointer_of(element)


def _element_at(root: etree._Element, libxml_path: str | None) -> etree._Element | None:
    if not libxml_path:
        return None
    try:
        found = root.xpath(libxml_path)
    except etree.XPathError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _without_echoes(json_problems: list[Problem], schema: list[Problem]) -> list[Problem]:
    """Drop schema reports that only echo a misfit the JSON conversion already reported.

    A misshapen value leaves its element empty or its text unparsable, and the schema then
    reports the same spot again; a skipped array item can leave its array empty.
    """
    spots: set[str] = set()
    arrays: set[str] = set()
    for problem in json_problems:
        if problem.path is None:
            continue
        spots.add(problem.path)
        head, _, last = problem.path.rpartition("/")
        if last.isdigit():
            arrays.add(head)
    return [
        p
        for p in schema
        if p.path not in spots and not (p.code == "schema.missing-element" and p.path in arrays)
    ]


def xpath_of(element: etree._Element) -> str:
    """A readable XPath of local names, with [n] where siblings share a name."""
    steps: list[str] = []
    current: etree._Element | None = element
    while current is not None:
        name = etree.QName(current).localname
        parent = current.getparent()
        if parent is not None and len(parent.findall(current.tag)) > 1:
            name += f"[{_same_tag_index(current) + 1}]"
        steps.append(name)
        current = parent
    return "/" + "/".join(reversed(steps))


def _same_tag_index(element: etree._Element) -> int:
    return sum(1 for _ in element.itersiblings(element.tag, preceding=True))


def _escape_pointer(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


@lru_cache(maxsize=1)
def claim_schema() -> ClaimSchema:
    """The claim schema, compiled once per process."""
    return ClaimSchema()
