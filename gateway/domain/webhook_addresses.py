"""Which addresses a webhook may reach: pure rules, no I/O.

A centre chooses where the worker POSTs, so without these rules a centre could make the
gateway talk to services inside its own network (databases, cloud metadata, admin
ports). A webhook URL must be ``https`` and its host must be, and resolve only to, public
unicast addresses. Operators may allow ``http`` and name private hosts or networks that
webhooks may reach anyway (``AddressPolicy``).

Hosts are read the way resolvers read them, so no spelling slips through: besides the
usual forms, the legacy ``inet_aton`` forms that ``getaddrinfo`` still accepts
(``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``), IPv4 inside IPv6 (mapped,
6to4, NAT64) and trailing dots.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}
_CARRIER_GRADE_NAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_NUMBER = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_-]+)*$")


class AddressRefused(Exception):
    """A webhook URL or address the policy does not allow; ``code`` names the rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    """Where a webhook URL points: its scheme, host (lower case, no trailing dot) and port,
    and the address itself when the host is written as one."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None


def parse_ip(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form a resolver would take; None for a name.

    Raises ``AddressRefused`` for a host that looks numeric but is no valid address (a
    resolver or a URL parser might still read it as one).
    """
    text = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError as exc:
            raise AddressRefused("webhook.host-invalid", f"{host!r} is not a valid host.") from exc
    parts = text.split(".")
    if not _NUMBER.match(parts[-1]):
        return None  # a name: its last label is not a number
    return _inet_aton(host, parts)


def _inet_aton(host: str, parts: list[str]) -> ipaddress.IPv4Address:
    """The legacy IPv4 forms: 1 to 4 numbers, each decimal, octal (0...) or hex (0x...);
    the last fills the remaining bytes (``127.1`` is 127.0.0.1)."""
    invalid = AddressRefused("webhook.host-invalid", f"{host!r} is not a valid address.")
    if len(parts) > 4 or not all(_NUMBER.match(p) for p in parts):
        raise invalid
    try:
        numbers = [_number(p) for p in parts]
    except ValueError as exc:
        raise invalid from exc
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        raise invalid
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part, 10)


def address_kind(address: IPAddress) -> str | None:
    """Why a webhook may not reach ``address`` (loopback, private...); None if it may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_kind(embedded)
    shared = isinstance(address, ipaddress.IPv4Address) and address in _CARRIER_GRADE_NAT
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    checks: Sequence[tuple[bool, str]] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (shared, "carrier-grade NAT"),
        (site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    return next((kind for blocked, kind in checks if blocked), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to (mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What webhooks may reach. The default: ``https`` to public addresses only."""

    allow_http: bool = False
    private_hosts: frozenset[str] = frozenset()
    private_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def build(cls, *, allow_http: bool, allowed_private: Iterable[str]) -> AddressPolicy:
        """A policy from settings; each allowed entry is a host name, an address or a
        network (CIDR). Raises ValueError for an entry that is none of these."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allowed_private:
            text = entry.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not _HOST_NAME.match(text) or _NUMBER.match(text.split(".")[-1]):
                raise ValueError(f"{entry!r} is neither a host name, an address nor a network")
            hosts.add(text)
        return cls(allow_http, frozenset(hosts), tuple(networks))

    def check_url(self, url: str) -> Target:
        """The target of ``url`` if its scheme and written host are allowed."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # an unbalanced [ or ]
            raise AddressRefused("webhook.host-invalid", "The URL's host is invalid.") from exc
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise AddressRefused("webhook.scheme", "A webhook URL must be https.")
        if scheme == "http" and not self.allow_http:
            raise AddressRefused(
                "webhook.https-required",
                "A webhook URL must be https; this gateway does not send events over http.",
            )
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise AddressRefused("webhook.host-invalid", "The URL's port is invalid.") from exc
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise AddressRefused("webhook.host-invalid", "A webhook URL needs a host.")
        address = parse_ip(host)
        if address is not None:
            self.check_addresses(host, [address])
        return Target(scheme, host, port, address)

    def check_addresses(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Refuse unless every address ``host`` resolves to may be reached."""
        if host.lower().rstrip(".") in self.private_hosts:
            return
        for address in addresses:
            kind = address_kind(address)
            if kind is not None and not self._allowed(address):
                article = "an" if kind[0] in "aeiou" else "a"
                raise AddressRefused(
                    "webhook.blocked-address",
                    f"Webhooks reach public addresses only; {host!r} is, or resolves to, "
                    f"{article} {kind} address.",
                )

    def _allowed(self, address: IPAddress) -> bool:
        candidates = [address]
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
        return any(
            a in n for a in candidates for n in self.private_networks if a.version == n.version
        )
