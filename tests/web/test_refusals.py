"""Refusals the workspace shows are told from the catalogues by their code, in the reader's
language: every code a service reachable from a workspace page can raise has its message in
Persian and in English (found by reading the source, so a new refusal without its message
fails here), and an unknown code still reads as a sentence of the page's language."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.domain.lifecycle import DocumentStatus
from gateway.errors import GatewayError, NotFoundError, RateLimitedError
from gateway.web import messages, refusals
from gateway.web.i18n import Locale

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# The error family, and the code each member has when none is given where it is raised.
FAMILY = {
    "GatewayError": None,
    "NotFoundError": "not-found",
    "AuthError": "auth.required",
    "ForbiddenError": "auth.forbidden",
    "RateLimitedError": "rate-limited",
    "OverloadedError": "overloaded",
}
# Errors of pure code whose code and params a service passes on as a GatewayError's.
CARRIERS = {"ReviewError"}
# The values a member of the family gives by itself.
OWN_PARAMS = {"RateLimitedError": {"seconds"}, "OverloadedError": {"seconds"}}


def module_path(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported(tree: ast.Module, package: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("gateway")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"{package}.{node.module}"
            if base.startswith("gateway"):
                names.add(base)
                names |= {f"{base}.{a.name}" for a in node.names}
    return names


def reachable_modules() -> dict[str, ast.Module]:
    """Every gateway module a workspace page imports, directly or through others."""
    start = [f"gateway.web.{p.stem}" for p in (ROOT / "gateway/web").glob("*.py")]
    seen: dict[str, ast.Module] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        path = module_path(name)
        if name in seen or path is None:
            continue
        tree = ast.parse(path.read_text(), str(path))
        seen[name] = tree
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        todo.extend(imported(tree, package) - seen.keys())
    return seen


@dataclass(frozen=True)
class Site:
    module: str
    line: int
    codes: frozenset[str]
    unknown: bool  # a code the source does not spell out
    params: frozenset[str] | None = None  # the values given, when written out there


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _strings(node: ast.expr) -> set[str] | None:
    """A code written out: ``"a"``, or ``"a" if ... else "b"``."""
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body), _strings(node.orelse)
        return None if body is None or orelse is None else body | orelse
    given = _string(node)
    return None if given is None else {given}


def _problem_codes(node: ast.expr) -> set[str] | None:
    """The codes of a literal list of ``Problem("code", ...)``; None when not so written."""
    if not isinstance(node, ast.List):
        return None
    codes = set()
    for item in node.elts:
        if not (isinstance(item, ast.Call) and _name(item.func) == "Problem" and item.args):
            return None
        code = _string(item.args[0])
        if code is None:
            return None
        codes.add(code)
    return codes


def _helper_codes(tree: ast.Module, call: ast.Call) -> set[str] | None:
    """A code passed as the first argument of the helper that builds the error
    (``_refused("referral.unknown", ...)``): the first argument of every call of it."""
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef) or not func.args.args:
            continue
        if call not in list(ast.walk(func)):
            continue
        first = func.args.args[0].arg
        uses = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
        if first not in uses:
            return None
        found = {
            _string(c.args[0])
            for c in ast.walk(tree)
            if isinstance(c, ast.Call) and _name(c.func) == func.name and c.args
        }
        return None if None in found or not found else {c for c in found if c}
    return None


def _params(kind: str, keywords: dict[str | None, ast.expr]) -> frozenset[str] | None:
    given = keywords.get("params")
    if given is None:
        return frozenset(OWN_PARAMS.get(kind, ()))
    if isinstance(given, ast.Dict) and all(_string(k) for k in given.keys if k):
        return frozenset(_string(k) or "" for k in given.keys if k)
    return None


def _site(module: str, tree: ast.Module, call: ast.Call) -> Site:
    kind = _name(call.func)
    keywords = {k.arg: k.value for k in call.keywords}
    if "code" in keywords:
        given = _strings(keywords["code"])
        if given is not None:
            params = _params(kind, keywords)
            return Site(module, call.lineno, frozenset(given), unknown=False, params=params)
        # ``code=exc.code``: passed on from a carrier, whose own codes are collected.
        carried = isinstance(keywords["code"], ast.Attribute)
        return Site(module, call.lineno, frozenset(), unknown=not carried)
    if FAMILY[kind] is not None:
        params = _params(kind, keywords)
        return Site(module, call.lineno, frozenset({FAMILY[kind]}), unknown=False, params=params)
    problems = call.args[2] if len(call.args) > 2 else keywords.get("problems")
    if problems is not None:
        codes = _problem_codes(problems) or _helper_codes(tree, call)
        params = _params(kind, keywords)
        return Site(module, call.lineno, frozenset(codes or ()), codes is None, params)
    return Site(module, call.lineno, frozenset(), unknown=True)


def refusal_sites() -> list[Site]:
    sites = []
    for module, tree in reachable_modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            kind = _name(node.func)
            if kind in FAMILY:
                sites.append(_site(module, tree, node))
            elif kind in CARRIERS:
                given = {k.arg: k.value for k in node.keywords}
                code = _string(given.get("code"))
                params = frozenset(k for k in given if k and k != "code")
                sites.append(
                    Site(module, node.lineno, frozenset({code or ""}), code is None, params)
                )
    return sites


def test_the_scan_finds_the_services_the_pages_call() -> None:
    modules = reachable_modules()
    for name in (
        "gateway.admin.service",
        "gateway.settlement.service",
        "gateway.review.service",
        "gateway.information.service",
        "gateway.assignment.service",
        "gateway.domain.review",
    ):
        assert name in modules, name
    codes = {c for s in refusal_sites() for c in s.codes}
    assert {"settlement.period-closed", "admin.self-disable", "not-found"} <= codes


def test_every_refusal_a_page_can_show_names_its_code() -> None:
    unnamed = [f"{s.module}:{s.line}" for s in refusal_sites() if s.unknown]
    assert unnamed == [], f"give these refusals a code= (and its refusal.* message): {unnamed}"


@pytest.mark.parametrize("lang", messages.LANGUAGES)
def test_every_code_a_page_can_show_has_its_message(lang: str) -> None:
    codes = {c for s in refusal_sites() for c in s.codes}
    missing = sorted(c for c in codes if c not in refusals.REFUSALS)
    assert missing == [], f"add these to gateway.web.refusals.REFUSALS: {missing}"
    untranslated = sorted(c for c in codes if not messages.known(lang, refusals.REFUSALS[c]))
    assert untranslated == [], f"no {lang} message for {untranslated}"


def test_each_message_names_only_values_its_refusals_give() -> None:
    """A value a message names is given by every refusal of that code (read from the
    source: the ``params`` written where it is raised)."""
    english = {m.id: str(m.string) for m in _catalog("en") if m.id}
    lacking = []
    for site in refusal_sites():
        for code in site.codes:
            key = refusals.REFUSALS.get(code)
            if key is None or site.params is None:
                continue
            named = set(PLACEHOLDER.findall(english[key]))
            if not named <= site.params:
                lacking.append(f"{site.module}:{site.line} {code} lacks {named - site.params}")
    assert lacking == []


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    from io import BytesIO

    from babel.messages.pofile import read_po

    return read_po(BytesIO(messages.po_text(lang)), locale=lang)


def test_a_refusal_is_told_in_persian_with_its_values_isolated() -> None:
    error = GatewayError(
        "Period 2026-11 is already closed.",
        409,
        code="settlement.period-closed",
        params={"period": "2026-11"},
    )
    persian = refusals.describe(Locale("fa"), error)
    assert "Period" not in persian
    assert '<bdi dir="ltr">۲۰۲۶-۱۱</bdi>' in persian
    english = refusals.describe(Locale("en"), error)
    assert english == 'Period <bdi dir="ltr">2026-11</bdi> is already closed.'


def test_numbers_are_persian_and_states_are_labelled() -> None:
    error = GatewayError(
        "Cannot move from APPROVED to APPROVED.",
        409,
        code="document.transition",
        params={"current": DocumentStatus.APPROVED, "target": DocumentStatus.APPROVED},
    )
    persian = refusals.describe(Locale("fa"), error)
    approved = messages.text("fa", "status.APPROVED")
    assert persian.count(approved) == 2
    assert "APPROVED" not in persian
    waited = refusals.describe(Locale("fa"), RateLimitedError(12.2))
    assert "<bdi>۱۳</bdi>" in waited


def test_an_unknown_code_reads_as_a_sentence_of_the_page_language() -> None:
    error = GatewayError("Something nobody translated.", 409, code="brand.new-refusal")
    persian = refusals.describe(Locale("fa"), error)
    assert "Something" not in persian
    assert '<bdi dir="ltr">brand.new-refusal</bdi>' in persian
    assert messages.text("fa", "refusal.unknown").split("{")[0].strip() in persian


def test_a_value_cannot_inject_markup() -> None:
    error = NotFoundError("User", code="admin.no-user", params={"username": "<b>x</b>"})
    shown = refusals.describe(Locale("en"), error)
    assert "<b>" not in shown
    assert "&lt;b&gt;" in shown
