"""The hostile corpus: bodies built to hurt a parser, each with the answer it must get.

Small classics are files in ``files/`` (read as bytes, never through a parser); large or
templated ones are built here, from a valid submission of the calling centre so that
nothing but the hostile part can be what is refused. Expected answers are a status and
the first problem's code.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from tests import factories as f

FILES = Path(__file__).parent / "files"
XML = "application/xml"
JSON = "application/json"
DOCTYPE = "xml.doctype-forbidden"
MALFORMED_XML = "xml.malformed"
MALFORMED_JSON = "json.malformed"


@dataclass(frozen=True, slots=True)
class Hostile:
    name: str
    media: str
    build: Callable[[str], bytes]  # centre code -> body
    status: int
    codes: frozenset[str]  # acceptable codes of the first problem


def _file(name: str) -> Callable[[str], bytes]:
    return lambda _: (FILES / name).read_bytes()


def _valid(code: str) -> bytes:
    return f.as_json(f.submission(code))


def _json_with(replace: tuple[str, str]) -> Callable[[str], bytes]:
    def build(code: str) -> bytes:
        text = _valid(code).decode()
        old, new = replace
        assert old in text
        return text.replace(old, new, 1).encode()

    return build


def _xml_with(replace: tuple[bytes, bytes]) -> Callable[[str], bytes]:
    def build(code: str) -> bytes:
        body = f.as_xml(f.submission(code))
        old, new = replace
        assert old in body
        return body.replace(old, new, 1)

    return build


def _quadratic_blowup(_: str) -> bytes:
    # One 40 KB entity referenced 4,000 times: 160 MB if it were expanded.
    entity = "a" * 40_000
    refs = "&big;" * 4_000
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE submission [<!ENTITY big "{entity}">]>\n'
        f'<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">{refs}</submission>'
    ).encode()


def _doctype_after_padding(_: str) -> bytes:
    padding = "<!--" + "x" * 20_000 + "-->\n"
    return (
        f'<?xml version="1.0"?>\n{padding}<!DOCTYPE submission [<!ENTITY e "boom">]>\n'
        '<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">&e;</submission>'
    ).encode()


def _deep_xml(depth: int) -> Callable[[str], bytes]:
    def build(_: str) -> bytes:
        inner = b"<x>" * depth + b"</x>" * depth
        return (
            b'<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">'
            + inner
            + (b"</submission>")
        )

    return build


def _many_elements(_: str) -> bytes:
    return (
        b'<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">'
        + b"<x/>" * 50_000
        + b"</submission>"
    )


def _huge_attribute(_: str) -> bytes:
    return (
        b'<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1" x="'
        + b"A" * 200_000
        + b'"/>'
    )


def _deep_json_arrays(_: str) -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


def _deep_json_objects(_: str) -> bytes:
    return b'{"a":' * 40_000 + b"1" + b"}" * 40_000


def _deep_json_within_limit(code: str) -> bytes:
    # 1,000 levels: under the JSON reader's own depth limit, so the converter walks it.
    nested = '{"software":' * 1_000 + "1" + "}" * 1_000
    return _json_with(('"centreCode":', f'"software":{nested},"centreCode":'))(code)


def _deep_json_lines(code: str) -> bytes:
    nested = "[" * 900 + "1" + "]" * 900
    text = _valid(code).decode()
    start = text.index('"lines":[') + len('"lines":')
    end = text.index("]", start) + 1
    return (text[:start] + nested + text[end:]).encode()


def _duplicate_top_key(code: str) -> bytes:
    text = _valid(code).decode()
    return ('{"schemaVersion":"2",' + text[1:]).encode()


def _many_json_keys(code: str) -> bytes:
    data = f.submission(code)
    data["header"].update({f"k{i}": i for i in range(12_000)})
    return orjson.dumps(data)


CORPUS: list[Hostile] = [
    # XML: entities, DTDs and includes.
    Hostile("billion-laughs", XML, _file("billion-laughs.xml"), 422, frozenset({DOCTYPE})),
    Hostile("quadratic-blowup", XML, _quadratic_blowup, 422, frozenset({DOCTYPE})),
    Hostile("xxe-local-file", XML, _file("xxe-local-file.xml"), 422, frozenset({DOCTYPE})),
    Hostile("xxe-network", XML, _file("xxe-network.xml"), 422, frozenset({DOCTYPE})),
    Hostile("xxe-parameter", XML, _file("xxe-parameter-entity.xml"), 422, frozenset({DOCTYPE})),
    Hostile("external-dtd", XML, _file("external-dtd.xml"), 422, frozenset({DOCTYPE})),
    Hostile("doctype-after-20k", XML, _doctype_after_padding, 422, frozenset({DOCTYPE})),
    # XInclude is never processed: the include element is just an unexpected element.
    Hostile(
        "xinclude",
        XML,
        _file("xinclude.xml"),
        422,
        frozenset({"schema.invalid", "schema.unexpected-element"}),
    ),
    # XML: size and shape.
    Hostile("deep-xml-300", XML, _deep_xml(300), 422, frozenset({MALFORMED_XML})),
    Hostile("deep-xml-30000", XML, _deep_xml(30_000), 422, frozenset({MALFORMED_XML})),
    Hostile("many-elements", XML, _many_elements, 422, frozenset({"schema.unexpected-element"})),
    Hostile(
        "huge-attribute", XML, _huge_attribute, 422, frozenset({"schema.unexpected-attribute"})
    ),
    Hostile(
        "huge-text-value",
        XML,
        _xml_with(
            (b"<medicalCouncilNumber>123456<", b"<medicalCouncilNumber>" + b"1" * 200_000 + b"<")
        ),
        422,
        frozenset({"schema.pattern", "schema.length"}),
    ),
    Hostile(
        "huge-xml-number",
        XML,
        _xml_with((b"<quantity>1<", b"<quantity>" + b"9" * 5_000 + b"<")),
        422,
        frozenset({"schema.out-of-range", "schema.invalid-value"}),
    ),
    # XML: bytes and encodings.
    Hostile("invalid-utf8-xml", XML, _file("invalid-utf8.xml"), 422, frozenset({MALFORMED_XML})),
    Hostile(
        "declared-utf16-sent-utf8",
        XML,
        _file("declared-utf16-sent-utf8.xml"),
        422,
        frozenset({MALFORMED_XML}),
    ),
    Hostile(
        "declared-utf8-sent-latin1",
        XML,
        _file("declared-utf8-sent-latin1.xml"),
        422,
        frozenset({MALFORMED_XML}),
    ),
    Hostile(
        "nul-bytes-xml",
        XML,
        lambda _: b"<submission>\x00\x00</submission>",
        422,
        frozenset({MALFORMED_XML}),
    ),
    Hostile(
        "binary-as-xml",
        XML,
        lambda _: gzip.compress(b"<a/>" * 1000),
        422,
        frozenset({MALFORMED_XML}),
    ),
    # JSON: keys.
    Hostile(
        "json-duplicate-top-key", JSON, _duplicate_top_key, 422, frozenset({"json.duplicate-key"})
    ),
    Hostile(
        "json-duplicate-line-key",
        JSON,
        _json_with(('"quantity":1', '"quantity":1,"quantity":100')),
        422,
        frozenset({"json.duplicate-key"}),
    ),
    Hostile("json-many-keys", JSON, _many_json_keys, 422, frozenset({"schema.unexpected-element"})),
    # JSON: nesting.
    Hostile("json-deep-arrays", JSON, _deep_json_arrays, 422, frozenset({MALFORMED_JSON})),
    Hostile("json-deep-objects", JSON, _deep_json_objects, 422, frozenset({MALFORMED_JSON})),
    Hostile(
        "json-deep-1000-in-header", JSON, _deep_json_within_limit, 422, frozenset({"json.type"})
    ),
    Hostile("json-deep-900-in-lines", JSON, _deep_json_lines, 422, frozenset({"json.type"})),
    # JSON: numbers.
    Hostile(
        "json-huge-integer",
        JSON,
        _json_with(('"quantity":1', '"quantity":' + "9" * 5_000)),
        422,
        frozenset({MALFORMED_JSON}),
    ),
    Hostile(
        "json-integer-over-64-bits",
        JSON,
        _json_with(('"quantity":1', '"quantity":18446744073709551616')),
        422,
        frozenset({"json.type"}),
    ),
    Hostile(
        "json-rials-over-limit",
        JSON,
        _json_with(('"unitPrice":650000', '"unitPrice":9223372036854775807')),
        422,
        frozenset({"schema.out-of-range", "schema.invalid-value"}),
    ),
    Hostile(
        "json-float-overflow",
        JSON,
        _json_with(('"quantity":1', '"quantity":1e400')),
        422,
        frozenset({MALFORMED_JSON}),
    ),
    Hostile("json-nan", JSON, _file("nan.json"), 422, frozenset({MALFORMED_JSON})),
    Hostile("json-infinity", JSON, _file("infinity.json"), 422, frozenset({MALFORMED_JSON})),
    Hostile(
        "json-negative-infinity",
        JSON,
        _json_with(('"quantity":1', '"quantity":-Infinity')),
        422,
        frozenset({MALFORMED_JSON}),
    ),
    Hostile(
        "json-fraction-for-integer",
        JSON,
        _json_with(('"quantity":1', '"quantity":1.5')),
        422,
        frozenset({"json.type"}),
    ),
    # JSON: types.
    Hostile(
        "json-string-for-number",
        JSON,
        _json_with(('"quantity":1', '"quantity":"1"')),
        422,
        frozenset({"json.type"}),
    ),
    Hostile(
        "json-array-for-string",
        JSON,
        _json_with(('"schemaVersion":"1"', '"schemaVersion":["1"]')),
        422,
        frozenset({"json.type"}),
    ),
    Hostile(
        "json-object-for-array",
        JSON,
        _json_with(('"documents":[', '"documents":{"a":[')),
        422,
        frozenset({MALFORMED_JSON}),
    ),
    Hostile(
        "json-null-for-object",
        JSON,
        _json_with(('"header":{', '"header":null,"x":{')),
        422,
        frozenset({"schema.unexpected-element", "schema.missing-element"}),
    ),
    Hostile(
        "json-boolean-for-integer",
        JSON,
        _json_with(('"quantity":1', '"quantity":true')),
        422,
        frozenset({"json.type"}),
    ),
    Hostile("json-array-body", JSON, _file("array-not-object.json"), 422, frozenset({"json.type"})),
    Hostile("json-scalar-body", JSON, _file("scalar.json"), 422, frozenset({"json.type"})),
    Hostile("json-truncated", JSON, _file("truncated.json"), 422, frozenset({MALFORMED_JSON})),
    # JSON: bytes and text.
    Hostile(
        "json-invalid-utf8", JSON, _file("invalid-utf8.json"), 422, frozenset({MALFORMED_JSON})
    ),
    Hostile(
        "json-lone-surrogate",
        JSON,
        _json_with(('"code":"970000"', '"code":"\\ud800"')),
        422,
        frozenset({MALFORMED_JSON, "json.invalid-text"}),
    ),
    Hostile(
        "json-control-character",
        JSON,
        _json_with(('"code":"970000"', '"code":"\\u0000\\u0001"')),
        422,
        frozenset({"json.invalid-text"}),
    ),
    Hostile(
        "json-huge-string",
        JSON,
        _json_with(
            ('"medicalCouncilNumber":"123456"', '"medicalCouncilNumber":"' + "1" * 200_000 + '"')
        ),
        422,
        frozenset({"schema.pattern", "schema.length"}),
    ),
    Hostile(
        "json-utf16",
        JSON,
        lambda code: _valid(code).decode().encode("utf-16"),
        422,
        frozenset({MALFORMED_JSON}),
    ),
    # The body itself.
    Hostile("empty-body", JSON, lambda _: b"", 400, frozenset({"body.empty"})),
    Hostile("blank-body", XML, lambda _: b" \n\t " * 100, 400, frozenset({"body.empty"})),
    Hostile(
        "over-the-size-limit",
        XML,
        lambda _: b"<a>" + b" " * 300_000 + b"</a>",
        413,
        frozenset({"body.too-large"}),
    ),
    Hostile(
        "unsupported-media-type",
        "text/plain",
        _valid,
        415,
        frozenset({"body.unsupported-media-type"}),
    ),
]
