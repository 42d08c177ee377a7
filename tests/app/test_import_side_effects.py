"""Importing any module of the gateway builds no Celery app and opens no connection.

Each check runs in a fresh interpreter, so nothing this test process imported already
hides an import that does the work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in the child: records every connection attempt and every Celery app, imports every
# module of the given packages, then prints what it saw as one JSON object.
PROBE = r"""
import importlib, json, pkgutil, socket, sqlite3, sys

opened = []

def refuse(kind):
    def attempt(*args, **kwargs):
        opened.append(kind)
        raise OSError(f"import-time {kind} connection")
    return attempt

socket.socket.connect = refuse("socket")
socket.create_connection = refuse("socket")
sqlite3.connect = refuse("sqlite")
import psycopg
psycopg.connect = refuse("postgresql")
psycopg.Connection.connect = classmethod(refuse("postgresql"))

from celery import _state

failed, imported = {}, []
for package in sys.argv[1:]:
    top = importlib.import_module(package)
    for info in pkgutil.walk_packages(top.__path__, package + "."):
        # The migrations run only inside alembic; __main__ runs the command line and
        # gateway.main is uvicorn's entry point: building the application is its job.
        if ".migrations" in info.name or info.name.endswith(("__main__", "gateway.main")):
            continue
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception as exc:
            failed[info.name] = repr(exc)
print(json.dumps({
    "imported": imported,
    "failed": failed,
    "opened": opened,
    "celery_apps": [app.main for app in _state._apps],
    "default_app": _state.default_app is not None,
}))
"""


def probe(*packages: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *packages],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_every_gateway_module_builds_no_celery_app_and_opens_nothing() -> None:
    seen = probe("gateway", "validators")
    assert seen["failed"] == {}
    assert "gateway.app" in seen["imported"]  # type: ignore[operator]
    assert "gateway.submissions.service" in seen["imported"]  # type: ignore[operator]
    assert seen["celery_apps"] == []
    assert seen["default_app"] is False
    assert seen["opened"] == []


def test_the_probe_sees_an_app_built_at_import() -> None:
    """The worker's module builds its app when imported: the probe must notice that."""
    seen = probe("workers")
    assert seen["celery_apps"] == ["gateway"]
