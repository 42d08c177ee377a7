"""The ASGI entry point for uvicorn: ``uvicorn gateway.main:app``."""

import gc

from gateway.app import create_app
from gateway.logs import configure_logging
from gateway.settings import get_settings

configure_logging(get_settings().log_level, get_settings().log_format)
app = create_app()
# What start-up built (modules, routes, compiled schemas, table metadata) lives as long as
# the process. Frozen, the cyclic collector no longer walks it: a full collection takes
# milliseconds instead of the tenth of a second every request in flight would wait out.
gc.freeze()
