"""Reading a batch file one document at a time, in constant memory.

Each document is checked as a one-document submission carrying the batch's header and
root attributes, by the same compiled XSD as POST /v1/submissions; only the paths differ:
they locate the document inside the batch file (``/submission/documents/prescription[7]``
in XML, ``/documents/6/prescription`` in JSON), and XML lines are lines of the file.

XML is read with lxml's ``iterparse`` under the single path's locked-down settings (no
DTD, no entities, no network, no huge trees); each document element is moved out of the
file's tree into a small submission tree, validated there and dropped. JSON is read with
ijson (its C backend): the top-level members other than ``documents`` first, then each
item of ``documents``.

Problems that concern the envelope (the root, the header, the sending centre, a file
that is not well-formed) raise EnvelopeError: the batch fails with them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import ijson
import orjson
from lxml import etree

from gateway.domain import documents as dm
from validators.problems import Problem, has_errors
from validators.reader import read_result, read_submission
from validators.rules.envelope import check_centre
from validators.schema import NAMESPACE, Format, claim_schema

_NS = "{" + NAMESPACE + "}"
KINDS = tuple(kind.value for kind in dm.DocumentKind)
_KIND_TAGS = tuple(_NS + kind for kind in KINDS)
_ROOT = _NS + "submission"
_HEADER = _NS + "header"
_DOCUMENTS = _NS + "documents"
_NUMBER = _NS + "documentNumber"
_DOCTYPE_MARKS = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_DOCTYPE = Problem(
    "xml.doctype-forbidden",
    "A DOCTYPE is not allowed: DTDs and entities are refused for safety.",
    None,
    1,
)


class EnvelopeError(Exception):
    """The file as a whole cannot be read as a submission of this centre."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(slots=True)
class Item:
    """One document of the file: read (``document``) or refused by the schema (``problems``)."""

    ordinal: int
    kind: str | None
    path: str
    number: str | None
    document: dm.Document | None = None
    problems: list[Problem] = field(default_factory=list)


def read_items(
    path: Path, fmt: Format, *, centre_code: str | None, start: int = 0
) -> Iterator[Item]:
    """The documents of the file from ordinal ``start`` on (earlier ones are only skipped,
    though the envelope is checked again with the first document). ``centre_code`` is the
    sender's (None offline, where the header's centre is not compared with a token's)."""
    if fmt is Format.XML:
        return _xml_items(path, centre_code, start)
    return _json_items(path, centre_code, start)


def count_items(path: Path, fmt: Format) -> int:
    """How many documents the file holds, counted as a stream without checking them;
    EnvelopeError when it cannot be read as XML or JSON."""
    if fmt is Format.JSON:
        values = {"start_map", "start_array", "string", "number", "boolean", "null"}
        try:
            with path.open("rb") as source:
                return sum(
                    1
                    for prefix, event, _ in ijson.parse(source)
                    if prefix == "documents.item" and event in values
                )
        except ijson.JSONError as exc:
            message = f"The JSON is not valid: {exc}"
            raise EnvelopeError([Problem("json.malformed", message, None)]) from exc
    _peek_root(path)
    count = depth = 0
    with path.open("rb") as source:
        events = etree.iterparse(
            source,
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            for event, element in events:
                if event == "start":
                    depth += 1
                    parent = element.getparent() if depth == 3 else None
                    count += parent is not None and parent.tag == _DOCUMENTS
                    continue
                depth -= 1
                if depth == 2:  # a document read: dropped, so memory stays flat
                    element.clear()
                    while element.getprevious() is not None:
                        del element.getparent()[0]
        except etree.XMLSyntaxError as exc:
            message = f"The XML is not well-formed: {exc.msg}"
            raise EnvelopeError([Problem("xml.malformed", message, None, _line(exc))]) from exc
    return count


def header_centre(path: Path, fmt: Format) -> str | None:
    """The centre code the file's header names (None when it names none or is unreadable)."""
    try:
        if fmt is Format.JSON:
            with path.open("rb") as source:
                top, _ = _json_top(source)
            header = top.get("header")
            code = header.get("centreCode") if isinstance(header, dict) else None
            return code.strip() if isinstance(code, str) else None
        with path.open("rb") as source:
            for _, element in etree.iterparse(
                source, events=("end",), tag=_HEADER, resolve_entities=False,
                no_network=True, load_dtd=False,
            ):  # fmt: skip
                code = element.findtext(_NS + "centreCode")
                return None if code is None else code.strip()
    except (EnvelopeError, ijson.JSONError, etree.XMLSyntaxError):
        return None
    return None


def _relocated(
    problems: list[Problem], prefix: str, path: str
) -> tuple[list[Problem], list[Problem]]:
    """(document problems with paths moved from ``prefix`` to ``path``, envelope problems)."""
    inside: list[Problem] = []
    outside: list[Problem] = []
    for problem in problems:
        where = problem.path
        if where is not None and (where == prefix or where.startswith(prefix + "/")):
            moved = path + where[len(prefix) :]
            inside.append(
                Problem(problem.code, problem.message, moved, problem.line, problem.severity)
            )
        else:
            outside.append(problem)
    return inside, outside


def _header_of(fields: dict[str, Any], path: str) -> dm.Submission:
    """The envelope of a header the schema has accepted."""
    number = fields.get("submissionNumber")
    return dm.Submission(
        centre_code=str(fields["centreCode"]).strip(),
        created_at=datetime.fromisoformat(str(fields["createdAt"]).strip()),
        submission_number=None if number is None else str(number).strip(),
        software=fields.get("software"),
        path=path,
    )


class _Envelope:
    """Checks the envelope once, with the first document, and refuses it if it is bad."""

    def __init__(self, centre_code: str | None) -> None:
        self.centre_code = centre_code
        self.checked = False

    def check(self, outside: list[Problem], header: dict[str, Any] | None, path: str) -> None:
        if self.checked:
            return
        if has_errors(outside) or header is None:
            raise EnvelopeError(outside)
        refused = check_centre(_header_of(header, path), self.centre_code)
        if refused:
            raise EnvelopeError(refused)
        self.checked = True


# -- XML ---------------------------------------------------------------------------------


def _validate_tree(root: etree._Element) -> list[Problem]:
    # ClaimSchema validates bytes; a batch validates trees it has already parsed (moved out
    # of the file's tree, with their source lines), so it uses the schema's tree check.
    return claim_schema()._validate(root, Format.XML)


def _like(element: etree._Element) -> etree._Element:
    """A new element of the same name, attributes and namespaces, without children."""
    nsmap: Any = element.nsmap
    attributes: dict[str, str] = {str(k): str(v) for k, v in element.attrib.items()}
    return etree.Element(element.tag, attributes, nsmap=nsmap)


def _line(exc: etree.XMLSyntaxError) -> int | None:
    return exc.lineno if isinstance(exc.lineno, int) and exc.lineno else None


def _source_line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


class _XmlBatch:
    def __init__(self, root: etree._Element, centre_code: str | None, start: int) -> None:
        self.root = root
        self.start = start
        self.envelope = _Envelope(centre_code)
        self.ordinal = 0
        self.seen: dict[str, int] = {}
        self.mini: etree._Element | None = None
        self.wrapper: etree._Element | None = None

    def _mini(self) -> etree._Element:
        """A submission with the file's root attributes and header, and no documents."""
        if self.mini is None:
            root = self.root
            mini = _like(root)
            header = root.find(_HEADER)
            if header is not None:
                mini.append(copy.deepcopy(header))
                mini[0].tail = None
            self.wrapper = etree.SubElement(mini, _DOCUMENTS)
            self.mini = mini
        return self.mini

    def item(self, element: etree._Element) -> Item | None:
        ordinal = self.ordinal
        self.ordinal += 1
        name = _local(element.tag)
        count = self.seen[name] = self.seen.get(name, 0) + 1
        path = f"/submission/documents/{name}[{count}]"
        if ordinal < self.start and self.envelope.checked:
            return None
        mini = self._mini()
        wrapper = self.wrapper
        assert wrapper is not None
        wrapper.append(element)
        try:
            problems = _validate_tree(mini)
            inside, outside = _relocated(problems, f"/submission/documents/{name}", path)
            if self.envelope.checked:
                inside += outside  # the envelope is known good: these are the document's
            else:
                header = mini.find(_HEADER)
                fields = None if header is None else {_local(c.tag): c.text for c in header}
                self.envelope.check(outside, fields, "/submission")
            if ordinal < self.start:
                return None
            number = element.findtext(_NUMBER)
            item = Item(ordinal, name, path, None if number is None else number.strip()[:40])
            if inside:
                item.problems = inside
            else:
                document = read_submission(mini, Format.XML).documents[0]
                document.path = path
                item.document = document
            return item
        finally:
            wrapper.remove(element)


def _peek_root(path: Path) -> None:
    """Refuses a file whose root is not a claim submission before reading it whole (with
    no document element to clear as it goes, its tree would fill the memory)."""
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False
    )
    with path.open("rb") as source:
        head = source.read(8192)
        if any(mark in head for mark in _DOCTYPE_MARKS):
            raise EnvelopeError([_DOCTYPE])
        chunk = head
        while chunk:
            try:
                parser.feed(chunk)
                for _, found in parser.read_events():
                    element = cast(etree._Element, found)
                    if element.tag == _ROOT:
                        return
                    raise EnvelopeError(_validate_tree(_like(element)))
            except etree.XMLSyntaxError as exc:
                message = f"The XML is not well-formed: {exc.msg}"
                raise EnvelopeError([Problem("xml.malformed", message, None, _line(exc))]) from exc
            chunk = source.read(65536)


def _xml_items(path: Path, centre_code: str | None, start: int) -> Iterator[Item]:
    _peek_root(path)
    with path.open("rb") as source:
        events = etree.iterparse(
            source,
            events=("end",),
            tag=(_HEADER, *_KIND_TAGS),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        batch: _XmlBatch | None = None
        try:
            for _, element in events:
                if batch is None:
                    batch = _XmlBatch(_root_of(element), centre_code, start)
                yield from _xml_element(batch, element)
            if batch is None:
                batch = _XmlBatch(_root_of(events.root), centre_code, start)
        except etree.XMLSyntaxError as exc:
            message = f"The XML is not well-formed: {exc.msg}"
            raise EnvelopeError([Problem("xml.malformed", message, None, _line(exc))]) from exc
        yield from _xml_tail(batch)


def _root_of(element: etree._Element | None) -> etree._Element:
    if element is None:
        raise EnvelopeError([Problem("xml.malformed", "The XML holds no element.", None, 1)])
    root = element.getroottree().getroot()
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise EnvelopeError([_DOCTYPE])
    return root


def _xml_element(batch: _XmlBatch, element: etree._Element) -> Iterator[Item]:
    parent = element.getparent()
    if element.tag == _HEADER:
        if parent is not batch.root:
            _misplaced(element)
        return
    if parent is None or parent.tag != _DOCUMENTS or parent.getparent() is not batch.root:
        _misplaced(element)
        return
    # Elements of unknown names come before this one: each is a document the schema refuses.
    while (earlier := element.getprevious()) is not None:
        found = batch.item(earlier)
        if found is not None:
            yield found
        if earlier.getparent() is parent:
            parent.remove(earlier)
    found = batch.item(element)
    if element.getparent() is parent:
        parent.remove(element)
    parent.text = None  # the blanks between documents, which would pile up
    if found is not None:
        yield found


def _misplaced(element: etree._Element) -> None:
    from validators.schema import xpath_of

    message = f"Element '{_local(element.tag)}' is not expected here."
    raise EnvelopeError(
        [Problem("schema.unexpected-element", message, xpath_of(element), _source_line(element))]
    )


def _xml_tail(batch: _XmlBatch) -> Iterator[Item]:
    """What is left once the file is read: unknown trailing elements, and the envelope."""
    root = batch.root
    wrappers = root.findall(_DOCUMENTS)
    for wrapper in wrappers[:1]:
        for leftover in list(wrapper):
            found = batch.item(leftover)
            if found is not None:
                yield found
    if batch.ordinal == 0 or len(root) != 2 or len(wrappers) != 1:
        # No document, or something besides one header and one documents: the schema
        # says what, on the envelope without its documents.
        problems = _validate_tree(_stripped(root))
        if batch.ordinal:
            problems = [p for p in problems if p.path != "/submission/documents"]
        if has_errors(problems):
            raise EnvelopeError(problems)


def _stripped(root: etree._Element) -> etree._Element:
    """The root with whatever is left of its documents removed."""
    for wrapper in root.findall(_DOCUMENTS):
        for child in list(wrapper):
            wrapper.remove(child)
    return root


# -- JSON --------------------------------------------------------------------------------


Repeats = list[tuple[dict[str, Any], str]]


def _noting(repeats: Repeats) -> type[dict[str, Any]]:
    """A dict type for ijson to build objects with, key by key, that notes a key given twice
    (ijson, like orjson, would keep the last value silently; the single path refuses the
    body with json.duplicate-key)."""

    class NotingObject(dict[str, Any]):
        __slots__ = ()

        def __setitem__(self, key: str, value: Any) -> None:
            if key in self:
                repeats.append((self, key))
            dict.__setitem__(self, key, value)

    return NotingObject


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _pointer_to(value: Any, target: object, pointer: str) -> str | None:
    """The JSON pointer of ``target`` (by identity) inside ``value``, which is at ``pointer``."""
    stack: list[tuple[Any, str]] = [(value, pointer)]
    while stack:
        node, where = stack.pop()
        if node is target:
            return where
        if isinstance(node, dict):
            stack += [(v, f"{where}/{_escape(k)}") for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(v, f"{where}/{n}") for n, v in enumerate(node)]
    return None


def _repeated(repeats: Repeats, value: Any, pointer: str) -> Problem | None:
    """The first key repeated within ``value`` (at ``pointer``), as the single path words it."""
    if not repeats:
        return None
    holder, key = repeats[0]
    repeats.clear()
    at = _pointer_to(value, holder, pointer)
    if at is None:
        return None
    where = f"the object at '{at}'" if at else "the top-level object"
    return Problem(
        "json.duplicate-key",
        f"The key '{key[:100]}' appears more than once in {where}; each key may appear only once.",
        f"{at}/{_escape(key)}",
    )


def _json_top(source: Any) -> tuple[dict[str, Any], str | None]:
    """The top-level members other than ``documents``, and the event that opens
    ``documents`` (None when absent). Stops at ``documents`` once the header is known,
    which is at once for a file that puts the header first."""
    events = ijson.parse(source, use_float=True)
    first = next(events, None)
    if first is None or first[1] != "start_map":
        message = "The JSON body must be an object (the content of a submission)."
        raise EnvelopeError([Problem("json.type", message, "")])
    top: dict[str, Any] = {}
    repeats: Repeats = []
    noting = _noting(repeats)
    opened: str | None = None
    key: str | None = None
    depth = 0
    builder: Any = None
    for _, event, value in events:
        if depth == 0:
            if event == "map_key":
                if value in top or (value == "documents" and opened is not None):
                    repeats.append((top, value))
                    break
                key = value
                continue
            if event == "end_map":
                break
            if key == "documents":
                opened = event
                if "header" in top:
                    break
                builder = None
            else:
                builder = ijson.ObjectBuilder(map_type=noting)
                builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth = 1
            elif builder is not None:
                top[str(key)] = builder.value
            continue
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if builder is not None:
            builder.event(event, value)
            if depth == 0:
                top[str(key)] = builder.value
    repeated = _repeated(repeats, top, "")
    if repeated is not None:
        raise EnvelopeError([repeated])
    return top, opened


def _json_kinds(entry: Any) -> tuple[str | None, str | None]:
    if isinstance(entry, dict) and len(entry) == 1:
        ((name, body),) = entry.items()
        number = body.get("documentNumber") if isinstance(body, dict) else None
        return str(name), number.strip()[:40] if isinstance(number, str) else None
    return None, None


def _json_item(
    top: dict[str, Any], entry: Any, ordinal: int, envelope: _Envelope, repeats: Repeats
) -> Item | None:
    name, number = _json_kinds(entry)
    path = f"/documents/{ordinal}"
    repeated = _repeated(repeats, entry, path)
    if repeated is not None:
        return Item(ordinal, name, f"{path}/{name}" if name else path, number, problems=[repeated])
    try:
        data = orjson.dumps({**top, "documents": [entry]})
    except orjson.JSONEncodeError as exc:  # an integer beyond 64 bits
        problem = Problem("json.malformed", f"The JSON is not valid: {exc}", path)
        return Item(ordinal, name, path, number, problems=[problem])
    result = claim_schema().check_json(data)
    inside, outside = _relocated(result.problems, "/documents/0", path)
    if envelope.checked:
        inside += outside  # the envelope is known good: these are the document's
    else:
        header = top.get("header")
        envelope.check(outside, header if isinstance(header, dict) else None, "")
    item = Item(ordinal, name, f"{path}/{name}" if name else path, number)
    if inside or not result.parsed:
        item.problems = inside
        return item
    document = read_result(result).documents[0]
    document.path = item.path
    item.document = document
    return item


def _json_items(path: Path, centre_code: str | None, start: int) -> Iterator[Item]:
    envelope = _Envelope(centre_code)
    try:
        with path.open("rb") as source:
            top, opened = _json_top(source)
        if opened not in (None, "start_array"):
            kind = {"start_map": "an object", "string": "a string"}.get(str(opened), "a value")
            message = f"Expected an array, got {kind}."
            raise EnvelopeError([Problem("json.type", message, "/documents")])
        ordinal = 0
        if opened is not None:
            repeats: Repeats = []
            noting = _noting(repeats)
            with path.open("rb") as source:
                for entry in ijson.items(source, "documents.item", use_float=True, map_type=noting):
                    if ordinal >= start or not envelope.checked:
                        item = _json_item(top, entry, ordinal, envelope, repeats)
                        if item is not None and ordinal >= start:
                            yield item
                    repeats.clear()
                    ordinal += 1
    except ijson.JSONError as exc:
        message = f"The JSON is not valid: {exc}"
        raise EnvelopeError([Problem("json.malformed", message, None)]) from exc
    if ordinal == 0:
        result = claim_schema().check_json(orjson.dumps({**top, "documents": []}))
        raise EnvelopeError(result.problems)
