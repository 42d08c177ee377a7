"""The workspace fixtures, for the document page's exchange (tests/web/conftest.py)."""

from tests.web.conftest import logged_in, web, web_settings

__all__ = ["logged_in", "web", "web_settings"]
