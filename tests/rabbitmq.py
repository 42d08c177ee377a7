"""A RabbitMQ node of a test's own: its own name, ports, Erlang cookie, epmd and data
directory, so a test may stop and restart it without touching the machine's broker.

    with private_node(tmp_path / "rabbitmq") as node:
        ...node.url...      # amqp://guest:guest@127.0.0.1:<its port>//
        node.restart_app()  # rabbitmqctl stop_app / start_app on this node only
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import services

# Debian's rabbitmq-server in /usr/sbin is a wrapper that, run as root, becomes the
# rabbitmq user (and reads that user's cookie); the scripts it wraps run as the caller.
_SCRIPT_DIRS = (Path("/usr/lib/rabbitmq/bin"),)


def _scripts() -> Path | None:
    for folder in _SCRIPT_DIRS:
        if (folder / "rabbitmq-server").exists() and (folder / "rabbitmqctl").exists():
            return folder
    found = shutil.which("rabbitmq-server")
    return Path(found).parent if found and shutil.which("rabbitmqctl") else None


def _free_ports(count: int) -> list[int]:
    """Ports free at this moment, all different (held together while chosen)."""
    with ExitStack() as held:
        socks = [held.enter_context(closing(socket.socket())) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@dataclass(frozen=True)
class Node:
    name: str
    url: str
    env: dict[str, str]
    scripts: Path
    folder: Path

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """rabbitmqctl on this node only (its name, cookie and epmd come from ``env``)."""
        return subprocess.run(
            [str(self.scripts / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=services.WAIT_S,
            check=False,
        )

    def restart_app(self) -> None:
        for step in ("stop_app", "start_app"):
            done = self.ctl(step)
            assert done.returncode == 0, f"{step} on {self.name}: {done.stdout}{done.stderr}"

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("log/*.log"))
        )


def _environment(folder: Path, name: str) -> tuple[dict[str, str], int]:
    amqp, dist, epmd = _free_ports(3)
    (folder / ".erlang.cookie").write_text(secrets.token_hex(20).upper())
    (folder / ".erlang.cookie").chmod(0o400)
    (folder / "enabled_plugins").write_text("[].\n")  # no management listener on 15672
    (folder / "rabbitmq-env.conf").write_text("")  # not the machine's /etc/rabbitmq one
    (folder / "rabbitmq.conf").write_text("")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RABBITMQ_")}
    env.update(
        HOME=str(folder),  # where the server and rabbitmqctl read the cookie
        RABBITMQ_NODENAME=name,
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(amqp),
        RABBITMQ_DIST_PORT=str(dist),
        ERL_EPMD_PORT=str(epmd),  # an epmd of its own, not the machine's on 4369
        ERL_EPMD_ADDRESS="127.0.0.1",
        RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
        RABBITMQ_LOG_BASE=str(folder / "log"),
        RABBITMQ_CONF_ENV_FILE=str(folder / "rabbitmq-env.conf"),
        RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
        RABBITMQ_ADVANCED_CONFIG_FILE=str(folder / "advanced.config"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"),
    )
    return env, amqp


def _await_startup(node: Node, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + services.WAIT_S
    while node.ctl("await_startup", "--timeout", "30").returncode != 0:
        assert server.poll() is None, f"{node.name} exited at start-up\n{node.logs()}"
        waited = f"{node.name} not started within {services.WAIT_S:.0f} s"
        assert time.monotonic() < deadline, f"{waited}\n{node.logs()}"
        time.sleep(1)


def _stop(node: Node, server: subprocess.Popen[bytes]) -> None:
    """This node, then the epmd it started (which outlives it otherwise)."""
    node.ctl("stop")
    try:
        server.wait(timeout=services.WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    epmd = shutil.which("epmd")
    if epmd is not None:
        port = node.env["ERL_EPMD_PORT"]
        subprocess.run([epmd, "-port", port, "-kill"], capture_output=True, check=False)


@contextmanager
def private_node(folder: Path) -> Iterator[Node]:
    """A fresh RabbitMQ node, started and, at the end, stopped (the test is skipped when
    RabbitMQ is not installed)."""
    scripts = _scripts()
    if scripts is None:
        pytest.skip("rabbitmq-server not installed: no RabbitMQ node of the test's own")
    folder.mkdir(parents=True)
    name = f"gwtest-{uuid.uuid4().hex[:8]}@localhost"
    env, port = _environment(folder, name)
    node = Node(name, f"amqp://guest:guest@127.0.0.1:{port}//", env, scripts, folder)
    with (folder / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [str(scripts / "rabbitmq-server")],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: a last-resort kill takes all
        )
    try:
        _await_startup(node, server)
        yield node
    finally:
        _stop(node, server)
