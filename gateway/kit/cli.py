"""What every feature's commands share: the error console, failing with an error's
problems listed, and sessions on the configured database."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import GatewayError
from gateway.settings import get_settings

err = Console(stderr=True)


def fail(error: GatewayError) -> NoReturn:
    """Print the error and each of its problems, then exit 1."""
    err.print(f"[red]{error.message}[/red]")
    for problem in error.to_problems():
        where = f" at {problem.path}" if problem.path else ""
        line = f" (line {problem.line})" if problem.line else ""
        err.print(f"  {problem.code}{where}{line}: {problem.message}")
    raise typer.Exit(1)


def open_sessions() -> sessionmaker[Session]:
    """Sessions on the configured database (GATEWAY_DATABASE_URL)."""
    from gateway.kit.db import engine_for, session_factory

    return session_factory(engine_for(get_settings().database_url))
