"""The ASGI entry point for uvicorn: ``uvicorn gateway.api.main:app``."""

from gateway.api.app import create_app

app = create_app()
