"""The workspace's message catalogues: Babel ``.po`` files under ``locale/``, compiled to
gettext's binary form when this module is first imported.

A message is named by a key (``queue.title``), never by its English text: the English and
the Persian catalogue each translate the key, so a changed English wording never orphans a
Persian one. Nothing compiled is kept in the repository or the package; the ``.po`` files
are the source, and ``make messages`` extracts and merges them.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib.resources import files
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fa", "en")
DOMAIN = "messages"


def po_text(lang: str) -> bytes:
    return files("gateway.web").joinpath(f"locale/{lang}/LC_MESSAGES/{DOMAIN}.po").read_bytes()


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """One language's compiled catalogue (fuzzy entries are left out, as msgfmt does)."""
    catalog = read_po(BytesIO(po_text(lang)), locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def known(lang: str, key: str) -> bool:
    return translations(lang).gettext(key) != key


def text(lang: str, key: str) -> str:
    """The key's text in the language; the key itself when it has none."""
    return translations(lang).gettext(key)


def N_(key: str) -> str:
    return key
