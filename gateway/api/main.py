"""The ASGI entry point for uvicorn: ``uvicorn gateway.api.main:app``."""

from gateway.api.app import create_app
from gateway.logs import configure_logging
from gateway.settings import get_settings

configure_logging(get_settings().log_level, get_settings().log_format)
app = create_app()
