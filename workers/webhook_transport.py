"""One webhook POST, sent only to an address the address policy allows at connect time.

The host is resolved once, every address it resolves to is vetted, and the connection is
made to a vetted address itself, so a name that resolved to a public address when the
webhook was registered and to an internal one now (DNS rebinding) is refused. The
request still carries the URL's host in ``Host`` and in the TLS server name, so
certificates are checked against the name the centre registered. Redirects are not
followed and environment proxies are not used (a proxy would resolve the name itself).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import httpcore
import httpx

from gateway import webhooks as service
from gateway.domain.webhook_addresses import AddressPolicy, AddressRefused, IPAddress, parse_ip
from gateway.domain.webhooks import DeliveryError

NETWORK_FAILURES = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


class BlockedAddress(httpcore.ConnectError):
    """The policy refused an address the host resolved to."""


class Unresolved(httpcore.ConnectError):
    """The host name resolved to no address."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to: the receiver's status, or the class of failure."""

    status_code: int | None
    error: str | None  # a DeliveryError value or http-Nxx; never the receiver's words
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class VettingBackend(httpcore.NetworkBackend):
    """Resolves once, vets every address, then connects to a vetted one."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _addresses(host, port)
        if not addresses:
            raise Unresolved(host)
        try:
            self._policy.check_addresses(host, addresses)
        except AddressRefused as refused:
            raise BlockedAddress(refused.message) from None
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._sockets.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedAddress("unix sockets are not webhook targets")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        literal = parse_ip(host)
    except AddressRefused:
        return []
    # Through the module, so that tests can stand in for the resolver.
    return [literal] if literal is not None else service.resolve(host, port)


@lru_cache(maxsize=1)
def default_tls() -> ssl.SSLContext:
    """The TLS context of deliveries: httpx's (certifi's roots), built once."""
    return httpx.create_ssl_context()


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    policy: AddressPolicy,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """POST once; the answer's body is never read, a redirect is not followed."""
    began = time.perf_counter()
    try:
        policy.check_url(url)
        target = httpx.URL(url)
    except AddressRefused:
        return Answer(None, DeliveryError.BLOCKED_ADDRESS.value, _ms_since(began))
    except httpx.InvalidURL:
        return Answer(None, DeliveryError.NETWORK.value, _ms_since(began))
    address = httpcore.URL(
        scheme=target.raw_scheme, host=target.raw_host, port=target.port, target=target.raw_path
    )
    sent = [(b"Host", target.netloc), *((k.encode(), v.encode()) for k, v in headers.items())]
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout_s)
    try:
        with (
            httpcore.ConnectionPool(
                ssl_context=tls or default_tls(), network_backend=VettingBackend(policy)
            ) as pool,
            pool.stream(
                "POST", address, headers=sent, content=body, extensions={"timeout": timeouts}
            ) as response,
        ):
            status: int = response.status
    except NETWORK_FAILURES as exc:
        return Answer(None, failure_class(exc).value, _ms_since(began))
    error = None if 200 <= status < 300 else f"http-{status // 100}xx"
    return Answer(status, error, _ms_since(began))


def failure_class(exc: BaseException) -> DeliveryError:
    """The class of a failed attempt that got no status (network, TLS, policy)."""
    if isinstance(exc, BlockedAddress):
        return DeliveryError.BLOCKED_ADDRESS
    if isinstance(exc, Unresolved):
        return DeliveryError.UNRESOLVED
    if isinstance(exc, httpcore.TimeoutException):
        return DeliveryError.TIMEOUT
    if isinstance(exc, httpcore.ConnectError):
        return DeliveryError.TLS if _caused_by_tls(exc) else DeliveryError.REFUSED
    return DeliveryError.NETWORK


def _caused_by_tls(exc: BaseException) -> bool:
    # httpcore wraps the ssl error, and its pool re-raises "from None": the ssl error
    # is then only the wrapper's context.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _ms_since(began: float) -> int:
    return round((time.perf_counter() - began) * 1000)
