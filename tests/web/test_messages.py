"""The workspace's message catalogues: every key the code and the templates use, and every
label looked up by an enum's value, is translated in Persian and in English; nothing is
fuzzy or empty."""

from __future__ import annotations

import re
from enum import StrEnum
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gateway.domain.centres import CentreKind, Role, Sector
from gateway.domain.documents import DocumentKind, Purpose
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.referrals import RolloutScope
from gateway.domain.review import ReviewAction, ReviewReason
from gateway.domain.tariff import Component, Grade
from gateway.information.schemas import AttachmentKind, RequestStatus
from gateway.pricing.engine.rules import Reason
from gateway.web import messages
from gateway.web.i18n import Locale

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"t": None, "plain": None, "N_": None}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_keys() -> set[str]:
    method_map, options_map = parse_mapping_cfg((ROOT / "babel.cfg").open())
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS, comment_tags=())
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def catalog(lang: str):  # type: ignore[no-untyped-def]
    return read_po(BytesIO(messages.po_text(lang)), locale=lang)


def test_the_code_and_templates_use_keys_the_extractor_finds() -> None:
    keys = used_keys()
    assert {"queue.title", "error.csrf", "status.UNDER_REVIEW", "login.throttled"} <= keys
    assert all(re.fullmatch(r"[a-z_]+(\.[A-Za-z0-9_-]+)+", key) for key in keys), keys


@pytest.mark.parametrize("lang", messages.LANGUAGES)
def test_every_used_key_is_translated(lang: str) -> None:
    entries = {m.id: m for m in catalog(lang) if m.id}
    missing = sorted(k for k in used_keys() if k not in entries or not entries[k].string)
    assert missing == [], f"untranslated in {lang}: {missing}"


@pytest.mark.parametrize("lang", messages.LANGUAGES)
def test_no_message_is_fuzzy_empty_or_unused(lang: str) -> None:
    used = used_keys()
    for message in catalog(lang):
        if not message.id:
            continue
        assert not message.fuzzy, f"fuzzy in {lang}: {message.id}"
        assert str(message.string).strip(), f"empty in {lang}: {message.id}"
        assert message.id in used, f"{message.id} is in {lang}'s catalogue but nothing uses it"


def test_both_languages_take_the_same_values() -> None:
    english = {m.id: str(m.string) for m in catalog("en") if m.id}
    for message in catalog("fa"):
        if message.id:
            ours = set(PLACEHOLDER.findall(str(message.string)))
            assert ours == set(PLACEHOLDER.findall(english[message.id])), message.id


@pytest.mark.parametrize(
    ("prefix", "enum"),
    [
        ("status", DocumentStatus),
        ("kind", DocumentKind),
        ("reason", Reason),
        ("reason", ReviewReason),
        ("review.action", ReviewAction),
        ("role", Role),
        ("grade", Grade),
        ("component", Component),
        ("sector", Sector),
        ("centre_kind", CentreKind),
        ("information.kind", AttachmentKind),
        ("information.status", RequestStatus),
        ("referrals.scope", RolloutScope),
    ],
)
def test_every_value_shown_by_its_label_has_one(prefix: str, enum: type[StrEnum]) -> None:
    for lang in messages.LANGUAGES:
        for value in enum:
            assert messages.known(lang, f"{prefix}.{value.value}"), (lang, prefix, value)


def test_estimates_are_labelled() -> None:
    for purpose in Purpose:
        if purpose.value != "claim":
            assert messages.known("fa", f"purpose.{purpose.value}"), purpose


def test_a_sentence_isolates_its_values_and_writes_persian_digits() -> None:
    persian = Locale("fa").t("queue.showing", first=1, last=25, total=2451)
    assert "<bdi>۲٬۴۵۱</bdi>" in persian
    assert "نمایش" in persian
    english = Locale("en").t("queue.showing", first=1, last=25, total=2451)
    assert english == "Showing <bdi>1</bdi>–<bdi>25</bdi> of <bdi>2,451</bdi>"
    assert Locale("en").t("no.such.key") == "no.such.key"


def test_a_value_cannot_inject_markup() -> None:
    shown = Locale("en").t("admin.issued", code="<script>")
    assert "<script>" not in shown
    assert "&lt;script&gt;" in shown


def test_every_action_written_about_a_document_has_a_label() -> None:
    """The audit panel of a document page names each action in words: every action the
    services write with a document as subject (a literal passed to ``_audit`` or a
    ``Record`` about a "document", or the constants they use) has a label in both
    languages."""
    from gateway.audit import reads
    from gateway.kit import claims

    sources = [
        *(ROOT / "gateway").glob("review/*.py"),
        *(ROOT / "gateway").glob("information/*.py"),
        *(ROOT / "gateway").glob("assignment/*.py"),
        ROOT / "gateway" / "audit" / "journal.py",
    ]
    written = {reads.ACTION, claims.OVERRIDE_ACTION}
    literal = re.compile(r'(?:_audit\([^"]*?|action=)"([a-z_]+\.[a-z_.-]+)"', re.S)
    for source in sources:
        written |= set(literal.findall(source.read_text()))
    assert {"document.status", "review.line", "information.requested"} <= written
    for lang in messages.LANGUAGES:
        missing = sorted(a for a in written if not messages.known(lang, f"action.{a}"))
        assert missing == [], f"actions without a label in {lang}: {missing}"


def test_every_problem_validation_writes_is_named_in_both_languages() -> None:
    """A document's stored problems are named on its page in the reader's language: every
    problem code the validators write has a label in both catalogues."""
    written: set[str] = set()
    for source in (ROOT / "validators").rglob("*.py"):
        written |= set(re.findall(r'"([a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*)"', source.read_text()))
    assert {"line.code-not-in-tariff", "schema.pattern", "patient.not-eligible"} <= written
    for lang in messages.LANGUAGES:
        missing = sorted(c for c in written if not messages.known(lang, f"problem.{c}"))
        assert missing == [], f"problems without a name in {lang}: {missing}"
