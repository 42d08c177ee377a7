"""The original document as the centre sent it: its part of the submission's raw body.

The stored body is never altered; this only cuts the document out of it (by the path the
reader recorded: an XPath of local names for XML, a JSON pointer for JSON) and indents it
for reading. When the path does not lead anywhere (a FHIR bundle), the whole body is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from lxml import etree

from validators.schema import safe_parser

SHOWN_MAX = 200_000  # characters; a larger body is cut, with a note
_STEP = re.compile(r"^([A-Za-z_][\w.-]*)(?:\[(\d+)\])?$")


@dataclass(frozen=True, slots=True)
class Original:
    text: str
    whole: bool  # the whole body, not just this document's part
    cut: bool  # longer than SHOWN_MAX


def original_document(body: bytes, content_type: str, path: str) -> Original:
    text, whole = _extract(body, content_type, path)
    return Original(text[:SHOWN_MAX], whole, len(text) > SHOWN_MAX)


def _extract(body: bytes, content_type: str, path: str) -> tuple[str, bool]:
    try:
        if "json" in content_type:
            data = orjson.loads(body)
            part = _pointer(data, path)
            shown = data if part is None else part
            return orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode(), part is None
        root = etree.fromstring(body, safe_parser())
        element = _xpath(root, path)
        shown_element = root if element is None else element
        etree.indent(shown_element, space="  ")
        return etree.tostring(shown_element, encoding="unicode"), element is None
    except (orjson.JSONDecodeError, etree.XMLSyntaxError, ValueError):
        return body.decode("utf-8", errors="replace"), True


def _pointer(data: Any, path: str) -> Any:
    """Follow a JSON pointer like ``/documents/0/outpatientVisit``; None if it is not there."""
    if not path.startswith("/"):
        return None
    node = data
    for token in path[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return None
    return node


def _xpath(root: etree._Element, path: str) -> etree._Element | None:
    """Follow ``/submission/documents/outpatientVisit[2]`` by local names, whatever the
    namespace; None if it is not there."""
    steps = [s for s in path.split("/") if s]
    if not steps or etree.QName(root).localname != _STEP.sub(r"\1", steps[0]):
        return None
    node = root
    for step in steps[1:]:
        match = _STEP.match(step)
        if match is None:
            return None
        name, index = match.group(1), int(match.group(2) or 1)
        same = [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == name]
        if index > len(same):
            return None
        node = same[index - 1]
    return node
