"""/docs and /redoc render in a browser that can reach nothing but the gateway: Swagger UI
and ReDoc come from a package's files, not a CDN."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.app import create_app
from gateway.settings import Settings
from tests.integration.conftest import free_port

LOCAL = "http://127.0.0.1:"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API on a free local port, in this process (the pages need no worker)."""
    folder = tmp_path_factory.mktemp("docs")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'gateway.sqlite'}",
        broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
        batch_spool_dir=Path(folder / "spool"),
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, relay=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield f"{LOCAL}{port}"
    server.should_exit = True
    thread.join(timeout=10)


def offline_page(browser: Any) -> tuple[Any, list[str]]:
    """A page whose every request off 127.0.0.1 is aborted (and remembered)."""
    page = browser.new_page()
    refused: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(LOCAL) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", only_local)
    return page, refused


def test_swagger_ui_renders_the_operations_offline(browser: Any, served: str) -> None:
    page, refused = offline_page(browser)
    try:
        page.goto(f"{served}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/v1/submissions" in p for p in paths)
        assert any("/fhir/metadata" in p for p in paths)
        assert page.locator("button.authorize").count() == 1  # the bearer scheme
    finally:
        page.close()
    assert refused == []


def test_redoc_renders_offline(browser: Any, served: str) -> None:
    page, refused = offline_page(browser)
    try:
        page.goto(f"{served}/redoc")
        heading = page.get_by_role("heading", name="Submit documents (XML or JSON)")
        heading.wait_for(timeout=30_000)
        assert page.get_by_text("Authorization", exact=False).count() > 0  # bearer shown
    finally:
        page.close()
    assert refused == []
