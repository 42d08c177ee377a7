"""The webhook address policy (gateway/domain/webhook_addresses.py): every spelling of an
internal address is refused, public addresses are not, and the opt-ins do what they say."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.domain.webhook_addresses import AddressPolicy, AddressRefused, Target, parse_ip
from gateway.domain.webhooks import error_class
from gateway.settings import Settings

HTTP = AddressPolicy(allow_http=True)

# Host as written in a URL -> the address every resolver reads it as.
SPELLINGS = {
    "127.0.0.1": "127.0.0.1",
    "2130706433": "127.0.0.1",  # one decimal number
    "0177.0.0.1": "127.0.0.1",  # octal
    "0x7f.1": "127.0.0.1",  # hex, short form
    "0x7f000001": "127.0.0.1",
    "0x7F.0.0.1": "127.0.0.1",
    "127.1": "127.0.0.1",
    "127.0.1": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",  # trailing dot
    "0": "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "[::ffff:127.0.0.1]": "::ffff:127.0.0.1",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]": "::ffff:127.0.0.1",
    "[0:0:0:0:0:ffff:a9fe:a9fe]": "::ffff:169.254.169.254",
    "[::1]": "::1",
}

REFUSED = [
    "127.0.0.1:5432",
    "169.254.169.254",  # cloud metadata
    "[::1]",
    "2130706433",
    "017700000001",
    "0177.0.0.1",
    "0x7f.1",
    "127.1",
    "127.0.0.1.",
    "10.0.0.1",
    "012.0.0.1",  # 10.0.0.1 in octal
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "0",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "[::]",
    "[fe80::1]",
    "[fd00::1]",  # unique local (RFC 4193)
    "[fc00::1]",
    "[fec0::1]",  # site-local
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    "[::ffff:a9fe:a9fe]",
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
]


@pytest.mark.parametrize(("host", "address"), SPELLINGS.items())
def test_every_spelling_of_an_address_is_read_as_resolvers_read_it(host: str, address: str) -> None:
    assert parse_ip(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", REFUSED)
def test_internal_addresses_are_refused_in_any_spelling(host: str) -> None:
    for scheme in ("http", "https"):
        with pytest.raises(AddressRefused) as refused:
            HTTP.check_url(f"{scheme}://{host}/hook")
        assert refused.value.code == "webhook.blocked-address"


@pytest.mark.parametrize(
    "host", ["1.2.3.256", "1.2.3.4.5", "08.0.0.1", "0x1.0x1000000", "4294967296", "foo.123"]
)
def test_numeric_hosts_that_are_no_address_are_refused(host: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        HTTP.check_url(f"https://{host}/")
    assert refused.value.code == "webhook.host-invalid"


@pytest.mark.parametrize(
    "url",
    [
        "https://his.example.org/hook",
        "https://8.8.8.8/",
        "https://134744072/",  # 8.8.8.8, however written
        "https://[2606:4700:4700::1111]:8443/x",
        "https://his-7.example.ir./events",
    ],
)
def test_public_hosts_are_taken(url: str) -> None:
    target = AddressPolicy().check_url(url)
    assert target.scheme == "https"


def test_https_is_required_unless_http_is_allowed() -> None:
    with pytest.raises(AddressRefused) as refused:
        AddressPolicy().check_url("http://his.example.org/hook")
    assert refused.value.code == "webhook.https-required"
    assert HTTP.check_url("http://his.example.org/hook").port == 80
    for url in ("ftp://his.example.org/", "file:///etc/passwd", "gopher://x.example/"):
        with pytest.raises(AddressRefused):
            HTTP.check_url(url)


def test_a_name_is_refused_when_any_address_it_resolves_to_is_internal() -> None:
    public, loopback = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("::1")
    AddressPolicy().check_addresses("his.example.org", [public])
    with pytest.raises(AddressRefused):
        AddressPolicy().check_addresses("his.example.org", [public, loopback])


def test_named_private_hosts_and_networks_are_allowed_only_where_listed() -> None:
    policy = Settings(
        webhook_allowed_private_hosts=["Hooks.Internal.", "10.20.0.0/16", "::1"]
    ).webhook_address_policy()
    internal = [ipaddress.ip_address("10.99.0.1")]
    policy.check_addresses("hooks.internal", internal)  # a named host: any address
    policy.check_addresses("hooks.internal.", internal)
    policy.check_url("https://10.20.3.4/")
    policy.check_url("https://[::ffff:10.20.3.4]/")
    policy.check_url("https://[::1]:8443/")
    for url in ("https://10.21.0.1/", "https://127.0.0.1/", "https://169.254.169.254/"):
        with pytest.raises(AddressRefused):
            policy.check_url(url)
    with pytest.raises(AddressRefused):
        policy.check_addresses("other.internal", internal)


@pytest.mark.parametrize("entry", ["not a host", "10.0.0.0/33", "1.2.3.256", "http://x/"])
def test_a_bad_allowed_entry_stops_the_settings(entry: str) -> None:
    with pytest.raises(ValidationError):
        Settings(webhook_allowed_private_hosts=[entry])


def test_the_defaults_are_https_and_public_addresses_only() -> None:
    assert Settings().webhook_address_policy() == AddressPolicy()


@pytest.mark.parametrize(
    ("status", "stored", "shown"),
    [
        (200, None, None),
        (503, "HTTP 503: FATAL: password authentication failed", "http-5xx"),
        (302, "HTTP 302: <a href=...>", "http-3xx"),
        (None, "ConnectError: [Errno 111] Connection refused", "refused"),
        (None, "ConnectTimeout: timed out", "timeout"),
        (None, "ReadTimeout: The read operation timed out", "timeout"),
        (None, "RemoteProtocolError: Server disconnected without sending a response.", "network"),
        (None, "ReadError: [Errno 104] Connection reset by peer", "network"),
        (None, "blocked-address", "blocked-address"),
        (None, "tls", "tls"),
    ],
)
def test_recorded_errors_are_shown_as_classes_old_texts_too(
    status: int | None, stored: str | None, shown: str | None
) -> None:
    assert error_class(status, stored) == shown


HOSTISH = st.text(alphabet="0123456789abcdefx.:[]%-_", max_size=40)


@given(host=HOSTISH, scheme=st.sampled_from(["http", "https", "ftp", ""]))
def test_any_host_is_either_a_target_or_refused_with_a_code(host: str, scheme: str) -> None:
    outcome: Target | AddressRefused
    try:
        outcome = HTTP.check_url(f"{scheme}://{host}/")
    except AddressRefused as refused:
        outcome = refused
    if isinstance(outcome, AddressRefused):
        assert outcome.code.startswith("webhook.")
    else:
        assert outcome.address is None or outcome.address.is_global
