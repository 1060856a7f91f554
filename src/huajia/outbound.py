"""Outbound requests: the one place that decides whether Huajia may send a request to a URL.

Two checks guard every request that leaves. `check_target` runs when a URL is accepted: its
syntax, then every address its host resolves to. `GuardedTransport` runs when a connection is
opened: it resolves again, checks again and connects to exactly an address it checked, so a
name whose DNS answer changes after it was accepted (DNS rebinding) cannot steer a request to
an inside address.

Refused, unless the operator allow-lists them: loopback, private, link-local, unique-local,
shared, multicast, reserved and unspecified addresses, also when embedded in an IPv6 address
(::ffff:a.b.c.d, 6to4, NAT64; Teredo always), and the service's own address and port. Cloud
metadata addresses are refused even when allow-listed. Messages never say whether a host exists
or a port is open: one message covers "does not resolve" and "resolves somewhere refused".
A policy may also name the only hosts a URL may use at all (images to edit: `source_hosts`).
Webhook hosts are looked up on threads of their own within a deadline (`huajia.lookups`): a
name whose DNS never answers is refused, and never holds a thread that serves requests.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING

import anyio.to_thread
import httpcore
import httpx

from huajia.errors import ConfigurationError, HostNotLookedUp, UrlRefused
from huajia.lookups import BACKLOG, LookupRefused, Lookups
from huajia.lookups import Resolver as Resolver
from huajia.lookups import system_resolver as system_resolver

if TYPE_CHECKING:
    from huajia.settings import Settings

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}

# Never a destination for a request a caller chose, whatever Python's `is_global` says (it
# differs between versions, and counts multicast as global).
_NOT_PUBLIC = tuple(
    ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
_NAT64 = ip_network("64:ff9b::/96")
# AWS (IPv4, IPv6), ECS, GCP/Azure/Oracle (169.254.169.254), GCP IPv6, Tencent Cloud, Alibaba,
# Azure WireServer: credentials live there.
_METADATA = frozenset(
    ip_address(address)
    for address in (
        "169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254", "fd00:ec2::23",
        "fd20:ce::254", "169.254.0.23", "100.100.100.200", "192.0.0.192", "168.63.129.16",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Where a checked URL points: its scheme, host (as it will be resolved) and port."""

    scheme: str
    host: str
    port: int

    @property
    def name(self) -> str:
        """The host as allow-lists compare it."""
        return _normal_name(self.host)


@dataclass(frozen=True)
class OutboundPolicy:
    """What outbound URLs may reach; built once at start-up from the settings."""

    allow_http: bool = False
    allowed_hosts: tuple[str, ...] = ()
    own_endpoints: tuple[tuple[str, int], ...] = ()
    max_url_length: int = 2000
    # When set, a URL's host must be one of these (names, addresses, networks) to be used at all.
    only_hosts: tuple[str, ...] | None = None
    resolver: Resolver = field(default=system_resolver, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _only: tuple[frozenset[str], tuple[IPNetwork, ...]] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        names, networks = _parse_allowed(self.allowed_hosts)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_networks", networks)
        only = None if self.only_hosts is None else _parse_allowed(self.only_hosts)
        object.__setattr__(self, "_only", only)

    @classmethod
    def for_webhooks(cls, settings: Settings, resolver: Resolver | None = None
                     ) -> OutboundPolicy:  # fmt: skip
        """Webhook receivers: the webhook_* settings, and this service's own endpoints; hosts
        are looked up on a pool of their own within host_lookup_seconds."""
        if resolver is None:  # room for the dispatcher's deliveries connecting together
            threads = max(settings.host_lookups, -(-settings.webhook_concurrency // BACKLOG))
            resolver = Lookups(threads=threads, deadline_s=settings.host_lookup_seconds)
        return cls(
            allow_http=settings.webhook_allow_http,
            allowed_hosts=tuple(settings.webhook_allowed_hosts),
            own_endpoints=_own_endpoints(settings),
            resolver=resolver,
        )

    @classmethod
    def for_sources(cls, settings: Settings, resolver: Resolver | None = None
                    ) -> OutboundPolicy:  # fmt: skip
        """Images to edit fetched by URL: only hosts on source_hosts, and an inside address
        only where source_hosts lists that address or its network (a listed name must still
        resolve to a public address, so its DNS cannot point Huajia inside). Hosts are looked
        up on the process's pool for source hosts, within host_lookup_seconds."""
        _names, networks = _parse_allowed(settings.source_hosts)
        return cls(
            allow_http=settings.source_allow_http,
            allowed_hosts=tuple(str(network) for network in networks),
            own_endpoints=_own_endpoints(settings),
            only_hosts=tuple(settings.source_hosts),
            resolver=resolver
            or _source_lookups(settings.host_lookups, settings.host_lookup_seconds),
        )

    def allows_name(self, name: str) -> bool:
        return _normal_name(name) in self._names

    def allows_address(self, address: IPAddress) -> bool:
        return any(view in network for view in _views(address) for network in self._networks)

    def admits_host(self, host: str) -> bool:
        """Whether a URL may name `host` at all (always, unless `only_hosts` is set)."""
        if self._only is None:
            return True
        names, networks = self._only
        literal = _literal(host)
        if literal is None:
            return _normal_name(host) in names
        return any(view in network for view in _views(literal) for network in networks)

    def is_own(self, name: str, address: IPAddress | None, port: int) -> bool:
        """Whether `name` (or `address`) on `port` is this service itself."""
        for host, own_port in self.own_endpoints:
            if own_port != port:
                continue
            own = _literal(host)
            if own is None and _normal_name(name) == _normal_name(host):
                return True
            if own is not None and address is not None and _same_machine(own, address):
                return True
        return False


@functools.lru_cache(maxsize=4)
def _source_lookups(threads: int, deadline_s: float) -> Lookups:
    """One pool per process for source hosts (a policy is built per request)."""
    return Lookups(threads=threads, deadline_s=deadline_s)


def check_webhook_target(url: str, policy: OutboundPolicy) -> None:
    """Refuse (UrlRefused) a webhook_url that may not be sent to, resolving its host now."""
    check_target(url, policy, label="webhook_url")


def check_target(url: str, policy: OutboundPolicy, *, label: str = "url") -> Target:
    """The URL's target if its syntax and every address its host resolves to are allowed."""
    target = check_url(url, policy, label=label)
    addresses = resolve(target.host, target.port, policy, label=label)
    check_addresses(target, addresses, policy, label=label)
    return target


def check_url(url: str, policy: OutboundPolicy, *, label: str = "url") -> Target:
    """The URL's target if its syntax is allowed (no resolving); UrlRefused if not."""
    if len(url) > policy.max_url_length:
        raise UrlRefused(f"{label} is longer than {policy.max_url_length} characters")
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, TypeError) as error:
        raise UrlRefused(f"{label} is not a valid URL") from error
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parsed.scheme not in schemes:
        raise UrlRefused(f"{label} must start with {' or '.join(s + '://' for s in schemes)}")
    if parsed.userinfo:
        raise UrlRefused(f"{label} may not contain a user name or password")
    if not host:
        raise UrlRefused(f"{label} has no host")
    port = DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 0 < port < 65536:
        raise UrlRefused(f"{label} has a port outside 1-65535")
    target = Target(parsed.scheme, host, port)
    if not policy.admits_host(host):
        raise UrlRefused(f"{label} may only name a host the operator has listed; {host} is not one")
    if policy.is_own(target.name, None, port) and not policy.allows_name(target.name):
        raise UrlRefused(_refusal(label, target.host))
    return target


def resolve(host: str, port: int, policy: OutboundPolicy, *, label: str = "url"
            ) -> list[IPAddress]:  # fmt: skip
    """The addresses `host` stands for: itself if a literal, else the resolver's (may be []);
    UrlRefused when the resolver gave no answer in time."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        return _addresses(policy.resolver(host, port))
    except LookupRefused as refused:
        raise HostNotLookedUp(f"{label} cannot be used now: {refused.reason}") from refused
    except (OSError, UnicodeError, ValueError):  # no answer, or one we cannot read: refuse
        return []


async def resolve_async(host: str, port: int, policy: OutboundPolicy, *, label: str = "url"
                        ) -> list[IPAddress]:  # fmt: skip
    """`resolve` for the event loop: a `Lookups` resolver is awaited, any other runs on a
    worker thread."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    if not isinstance(policy.resolver, Lookups):
        return await anyio.to_thread.run_sync(
            lambda: resolve(host, port, policy, label=label), abandon_on_cancel=True
        )
    try:
        return _addresses(await policy.resolver.resolve_async(host, port))
    except LookupRefused as refused:
        raise HostNotLookedUp(f"{label} cannot be used now: {refused.reason}") from refused
    except (OSError, UnicodeError, ValueError):
        return []


def _addresses(answers: Sequence[str]) -> list[IPAddress]:
    """A resolver's answers as addresses, each once, in order (a zone id dropped)."""
    return list(dict.fromkeys(ip_address(answer.split("%", 1)[0]) for answer in answers))


def check_addresses(target: Target, addresses: Sequence[IPAddress], policy: OutboundPolicy,
                    *, label: str = "url") -> None:  # fmt: skip
    """UrlRefused unless there is an address and every one of them may be reached."""
    if not addresses or not all(_address_allowed(target, each, policy) for each in addresses):
        raise UrlRefused(_refusal(label, target.host))


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address (judging an embedded IPv4 by itself)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    if any(address.version == network.version and address in network for network in _NOT_PUBLIC):
        return False
    return address.is_global and not address.is_multicast


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes through `GuardedBackend`."""

    def __init__(self, policy: OutboundPolicy, *, max_connections: int = 100) -> None:
        super().__init__(trust_env=False)  # a proxy from the environment would skip the guard
        # httpx takes no network backend, so the pool it built is replaced by one that has ours;
        # tests/outbound prove requests really pass through it.
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(policy),
            max_connections=max_connections,
            keepalive_expiry=5.0,
            retries=0,
        )


def guarded_client(
    policy: OutboundPolicy, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An httpx client that checks every address it connects to and follows no redirects."""
    return httpx.AsyncClient(
        transport=transport or GuardedTransport(policy),
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked one (TLS still uses the name)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:  # fmt: skip
        target = Target("tcp", host, port)
        addresses = await resolve_async(host, port, self._policy)
        check_addresses(target, addresses, self._policy)
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            await self._refuse_self(target, stream)
            return stream
        raise failure

    async def _refuse_self(self, target: Target, stream: httpcore.AsyncNetworkStream) -> None:
        # Listening on 0.0.0.0 makes every local address this service: a connection whose two
        # ends share an address, to our own port, is a request to ourselves.
        local, peer = stream.get_extra_info("client_addr"), stream.get_extra_info("server_addr")
        if not local or not peer or local[0] != peer[0] or self._policy.allows_name(target.name):
            return
        own_ports = {port for host, port in self._policy.own_endpoints if _literal(host)}
        if peer[1] in own_ports:
            await stream.aclose()
            raise UrlRefused(_refusal("url", target.host))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:  # fmt: skip
        raise UrlRefused("outbound requests use TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _address_allowed(target: Target, address: IPAddress, policy: OutboundPolicy) -> bool:
    views = _views(address)
    if any(view in _METADATA for view in views):
        return False
    by_name = policy.allows_name(target.name)
    if policy.is_own(target.name, address, target.port) and not by_name:
        return False
    return by_name or policy.allows_address(address) or is_public(address)


def _refusal(label: str, host: str) -> str:
    return (
        f"{label} must reach a public address, and {host} does not resolve to one that may be "
        "used (loopback, private, link-local, metadata and this service's own addresses are "
        "refused; the operator can allow-list internal hosts)"
    )


def _literal(host: str) -> IPAddress | None:
    """The address a literal host stands for, in any spelling getaddrinfo accepts (127.1,
    2130706433, 0x7f000001 ...), or None for a name."""
    try:
        return ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _views(address: IPAddress) -> list[IPAddress]:
    """The address, and the IPv4 address embedded in it if any."""
    embedded = _embedded_ipv4(address)
    return [address] if embedded is None else [address, embedded]


def _same_machine(own: IPAddress, address: IPAddress) -> bool:
    """Whether a connection to `address` reaches a socket listening on `own`."""
    for view in _views(address):
        if view == own or (own.is_unspecified and (view.is_loopback or view.is_unspecified)):
            return True
    return False


def _own_endpoints(settings: Settings) -> tuple[tuple[str, int], ...]:
    """This service's listening address and its public URL's host, as (host, port)."""
    own = [(settings.host, settings.port)]
    if settings.public_url:
        try:
            public = httpx.URL(settings.public_url)
        except httpx.InvalidURL as error:
            raise ConfigurationError("public_url is not a valid URL") from error
        own.append((public.host, public.port or DEFAULT_PORTS.get(public.scheme, 443)))
    return tuple((_normal_name(host), port) for host, port in own)


def _normal_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _parse_allowed(entries: Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Allow-list entries split into host names and networks (an address is a /32 or /128)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in entries:
        text = _normal_name(entry)
        try:
            networks.append(ip_network(text, strict=False))
        except ValueError as error:
            if "/" in text or not text:
                message = f"allowed host {entry!r} is neither a name nor a network"
                raise ConfigurationError(message) from error
            names.add(text)
    return frozenset(names), tuple(networks)
