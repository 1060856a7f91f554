"""Which outbound URLs are refused before any request leaves: syntax, then every address."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from huajia.errors import ConfigurationError, UrlRefused
from huajia.outbound import OutboundPolicy, check_target, check_webhook_target, system_resolver
from huajia.settings import Settings


class FakeDns:
    """Answers from a table; a name not in it does not exist (no real DNS in tests)."""

    def __init__(self, table: dict[str, Sequence[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        name = host.lower().rstrip(".")
        if name not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[name]


def policy(*allowed: str, allow_http: bool = True, dns: FakeDns | None = None,
           own: tuple[tuple[str, int], ...] = ()) -> OutboundPolicy:  # fmt: skip
    return OutboundPolicy(
        allow_http=allow_http, allowed_hosts=allowed, own_endpoints=own, resolver=dns or FakeDns()
    )


INSIDE = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::1]/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/",
    "http://10.1.2.3/",
    "http://192.168.0.10/",
    "http://172.16.5.4/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://[fe80::1]/",
    "http://[fc00::5]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 around 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo
    "http://127.0.0.1:8000/api/v1/generate",
]


@pytest.mark.parametrize("url", INSIDE)
def test_inside_addresses_in_every_spelling_are_refused_without_asking_dns(url: str) -> None:
    dns = FakeDns()
    with pytest.raises(UrlRefused) as refused:
        check_target(url, policy(dns=dns))
    assert refused.value.code == "url_refused"
    assert dns.asked == [], "a literal address is judged by itself"


@pytest.mark.parametrize(
    "url",
    ["https://93.184.215.14/hook", "https://[2606:4700::1]/hook", "https://[::ffff:5db8:d70e]/"],
)
def test_public_literal_addresses_are_allowed_without_dns(url: str) -> None:
    dns = FakeDns()
    check_target(url, policy(allow_http=False, dns=dns))
    assert dns.asked == []


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    dns = FakeDns({
        "cms.example.com": ["93.184.215.14", "2606:4700::1"],
        "split.example.com": ["93.184.215.14", "127.0.0.1"],
        "localhost": ["127.0.0.1", "::1"],
    })  # fmt: skip
    check_webhook_target("https://cms.example.com/hook", policy(dns=dns))
    for host in ("split.example.com", "localhost"):
        with pytest.raises(UrlRefused):
            check_webhook_target(f"https://{host}/hook", policy(dns=dns))


def test_localhost_through_the_real_resolver_is_refused() -> None:
    with pytest.raises(UrlRefused):
        check_webhook_target("http://localhost:8000/", OutboundPolicy(allow_http=True))


def test_the_system_resolver_reads_numeric_spellings_as_the_connection_would() -> None:
    for spelling in ("127.1", "2130706433", "0x7f000001"):
        assert system_resolver(spelling, 80) == ["127.0.0.1"]


def test_a_missing_name_and_an_inside_name_get_the_same_message() -> None:
    dns = FakeDns({"db.corp.example": ["10.0.0.5"]})
    messages = []
    for host in ("db.corp.example", "nothing.corp.example"):
        with pytest.raises(UrlRefused) as refused:
            check_webhook_target(f"https://{host}/hook", policy(dns=dns))
        messages.append(refused.value.message.replace(host, "HOST"))
    assert messages[0] == messages[1], "the answer must not tell whether a host exists"
    assert "webhook_url" in messages[0]


def test_allow_listed_names_addresses_and_networks_may_be_inside() -> None:
    dns = FakeDns({"cms.internal": ["192.168.1.5"], "other.internal": ["192.168.1.6"]})
    allowing = policy("cms.internal", "10.0.0.0/8", "::1", dns=dns)
    check_target("http://cms.internal/hook", allowing)
    check_target("http://CMS.Internal./hook", allowing)
    check_target("http://10.20.30.40:9000/hook", allowing)
    check_target("http://[::1]:9000/hook", allowing)
    for url in ("http://other.internal/", "http://192.168.0.1/", "http://127.0.0.1/"):
        with pytest.raises(UrlRefused):
            check_target(url, allowing)


def test_metadata_addresses_stay_refused_even_inside_an_allowed_network() -> None:
    allowing = policy("169.254.0.0/16", "fd00::/8")
    check_target("http://169.254.1.1/", allowing)
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/"):
        with pytest.raises(UrlRefused):
            check_target(url, allowing)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.215.14/hook", "https://"),
        ("ftp://93.184.215.14/hook", "https://"),
        ("https://user:pw@93.184.215.14/hook", "user name or password"),
        ("https://93.184.215.14:0/", "port"),
        ("https://93.184.215.14:99999/", "port"),
        ("https:///hook", "no host"),
        ("https://[::1/", "not a valid URL"),
        ("https://93.184.215.14/" + "a" * 1990, "longer than 2000"),
        ("https://93.184.215.14/" + "a" * 65_536, "longer than 2000"),
    ],
)
def test_syntax_is_refused_with_a_message_a_person_can_act_on(url: str, says: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_target(url, policy(allow_http=False))
    assert says in refused.value.message


def test_http_needs_allow_http() -> None:
    check_target("http://93.184.215.14/hook", policy(allow_http=True))


def test_the_service_itself_is_refused_unless_its_name_is_allow_listed() -> None:
    dns = FakeDns({"huajia.example.com": ["93.184.215.14"]})
    own = (("127.0.0.1", 8000), ("huajia.example.com", 443))
    narrow = policy("127.0.0.1", dns=dns, own=own)
    check_target("http://127.0.0.1:9000/hook", narrow)
    for url in ("http://127.0.0.1:8000/api/v1/generate", "https://huajia.example.com/cms/hook"):
        with pytest.raises(UrlRefused):
            check_target(url, narrow)
    allowing = policy("huajia.example.com", dns=dns, own=own)
    check_target("https://huajia.example.com/cms/hook", allowing)


def test_listening_on_every_address_refuses_loopback_on_that_port() -> None:
    wide = policy("127.0.0.0/8", "::1", own=(("0.0.0.0", 8000),))
    check_target("http://127.0.0.1:8001/", wide)
    for url in ("http://127.0.0.1:8000/", "http://127.0.0.2:8000/", "http://[::1]:8000/"):
        with pytest.raises(UrlRefused):
            check_target(url, wide)


def test_webhook_policy_comes_from_the_settings() -> None:
    settings = Settings(
        host="0.0.0.0", port=8123, public_url="https://Huajia.Example.com/",
        webhook_allow_http=True, webhook_allowed_hosts=["10.0.0.0/8"],
    )  # fmt: skip
    built = OutboundPolicy.for_webhooks(settings)
    assert built.allow_http
    assert built.own_endpoints == (("0.0.0.0", 8123), ("huajia.example.com", 443))
    check_target("http://10.1.1.1/", built)


def test_an_allow_list_entry_that_is_not_a_network_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        OutboundPolicy(allowed_hosts=("10.0.0.0/33",))


@pytest.mark.parametrize(
    "address",
    ["169.254.0.23", "169.254.169.254", "[fd20:ce::254]", "[fd00:ec2::254]", "[fd00:ec2::23]"],
)
def test_cloud_metadata_stays_refused_with_link_local_and_unique_local_allow_listed(
    address: str,
) -> None:
    name = address.strip("[]")
    dns = FakeDns({"metadata.example.com": [name]})
    allowing = policy("169.254.0.0/16", "fd00::/8", dns=dns)
    for url in (f"http://{address}/latest/meta-data/", "http://metadata.example.com/"):
        with pytest.raises(UrlRefused):
            check_target(url, allowing)
