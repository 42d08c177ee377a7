"""A real HTTP server on localhost that plays a centre's webhook receiver in tests."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests import services


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Receiver:
    """Answers POSTs with the scripted statuses in turn (then 200) and keeps what came."""

    url: str
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)  # TLS SNI, one per handshake
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_for(self, request: Received) -> int:
        with self.lock:
            self.requests.append(request)
            return self.statuses.pop(0) if self.statuses else 200

    def wait_for(
        self, done: Callable[[list[Received]], bool], timeout: float = services.WAIT_S
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                seen = list(self.requests)
            if done(seen) or time.monotonic() > deadline:
                return seen
            time.sleep(0.2)


@contextmanager
def running_receiver(
    statuses: list[int] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 for the duration of the block;
    with ``tls`` (a server context) it speaks https and notes each handshake's SNI."""
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            assert receiver is not None
            status = receiver.answer_for(Received(self.path, headers, body))
            reply = b"ok" if status < 300 else b"not now"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        scheme = "https"
        tls.sni_callback = lambda _sock, name, _ctx: _note_server_name(receiver, name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    receiver = Receiver(f"{scheme}://127.0.0.1:{port}/events", statuses or [])
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _note_server_name(receiver: Receiver | None, name: str | None) -> None:
    if receiver is not None:
        with receiver.lock:
            receiver.server_names.append(name)
