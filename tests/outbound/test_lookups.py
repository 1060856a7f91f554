"""Webhook host lookups: each within a deadline, on a few threads that serve no request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from ipaddress import ip_address

import pytest

from huajia.errors import HostNotLookedUp, UrlRefused
from huajia.lookups import BACKLOG, Lookups
from huajia.outbound import OutboundPolicy, check_webhook_target, resolve, resolve_async
from huajia.settings import Settings


class SilentDns:
    """A DNS server that never answers `slow.example`, until released; others answer at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.busy = 0
        self.most_busy = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> Sequence[str]:
        with self._lock:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
            self.threads.add(threading.current_thread().name)
        try:
            if host == "slow.example":
                self.release.wait(30)
            return ["93.184.215.14"]
        finally:
            with self._lock:
                self.busy -= 1


@pytest.fixture
def dns() -> Iterator[SilentDns]:
    silent = SilentDns()
    yield silent
    silent.release.set()  # the lookup threads end with the test


def refusal(url: str, policy: OutboundPolicy) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(UrlRefused) as refused:
        check_webhook_target(url, policy)
    return refused.value.message, time.monotonic() - started


def test_a_host_whose_dns_never_answers_is_refused_at_the_deadline(dns: SilentDns) -> None:
    policy = OutboundPolicy(resolver=Lookups(dns, threads=2, deadline_s=0.3))
    message, waited = refusal("https://slow.example/hook", policy)
    assert "webhook_url" in message and "not resolved within 0.3 seconds" in message
    assert 0.25 < waited < 2
    check_webhook_target("https://fast.example/hook", policy)  # a free thread still answers
    assert dns.threads and all(name.startswith("huajia-lookup") for name in dns.threads)


def test_lookups_wait_for_a_thread_within_the_deadline_and_a_full_backlog_refuses_at_once(
    dns: SilentDns,
) -> None:
    policy = OutboundPolicy(resolver=Lookups(dns, threads=2, deadline_s=0.3))
    callers = [
        threading.Thread(target=refusal, args=("https://slow.example/", policy)) for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    # Both callers gave up at the deadline, but their lookups still hold both threads.
    assert dns.busy == 2
    message, waited = refusal("https://fast.example/", policy)
    assert "not resolved within 0.3 seconds" in message, "it waited for a thread in vain"
    assert 0.25 < waited < 2
    # Two stuck and six waiting for a thread fill the backlog (BACKLOG × threads): the next is
    # refused at once.
    waiting = [
        threading.Thread(target=refusal, args=("https://fast.example/", policy)) for _ in range(6)
    ]
    for caller in waiting:
        caller.start()
    time.sleep(0.1)
    message, waited = refusal("https://fast.example/", policy)
    assert "too many host names are being looked up" in message
    assert waited < 0.2, "refused at once, not queued behind the stuck lookups"
    for caller in waiting:
        caller.join(5)
    assert dns.most_busy == 2, "never more lookups at once than threads"
    dns.release.set()
    deadline = time.monotonic() + 5
    while dns.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the slots come back as the lookups end
    check_webhook_target("https://fast.example/hook", policy)


def test_a_burst_of_good_names_waits_its_turn_instead_of_being_refused() -> None:
    """A webhook dispatcher's deliveries connecting together, or editors fetching images by
    URL at once: more lookups than threads, each answered."""

    def unhurried(host: str, port: int) -> Sequence[str]:
        time.sleep(0.05)
        return ["93.184.215.14"]

    policy = OutboundPolicy(resolver=Lookups(unhurried, threads=2, deadline_s=2))

    async def scenario() -> list[object]:
        asks = [resolve_async(f"h{index}.example", 443, policy) for index in range(8)]
        return await asyncio.gather(*asks, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert all(isinstance(answer, list) and len(answer) == 1 for answer in answers), answers


def test_a_delivery_whose_host_is_not_looked_up_in_time_is_tried_again_later() -> None:
    """Unlike an address refused by the rules, a slow DNS server is not the receiver's
    address being forbidden: the delivery counts as unreachable."""
    assert issubclass(HostNotLookedUp, UrlRefused)
    with pytest.raises(HostNotLookedUp):
        resolve("slow.example", 443, OutboundPolicy(resolver=Lookups(_never, deadline_s=0.05)))


def _never(host: str, port: int) -> Sequence[str]:
    time.sleep(0.5)
    return []


def test_the_connection_guard_awaits_a_lookup_within_the_deadline(dns: SilentDns) -> None:
    policy = OutboundPolicy(resolver=Lookups(dns, threads=1, deadline_s=0.2))

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(UrlRefused, match="not resolved within"):
            await resolve_async("slow.example", 443, policy)
        assert time.monotonic() - started < 2
        # The one thread is still stuck: the next waits for it until the deadline, in vain.
        with pytest.raises(UrlRefused, match="not resolved within"):
            await resolve_async("fast.example", 443, policy)
        dns.release.set()
        while dns.busy:
            await asyncio.sleep(0.01)
        assert await resolve_async("fast.example", 443, policy) == [ip_address("93.184.215.14")]

    asyncio.run(scenario())


def test_host_lookups_follow_the_settings() -> None:
    settings = Settings(host_lookup_seconds=1.5, host_lookups=2)
    resolver = OutboundPolicy.for_webhooks(settings).resolver
    assert isinstance(resolver, Lookups)
    assert resolver.deadline_s == 1.5


def test_images_fetched_by_url_are_looked_up_on_one_pool_with_the_same_deadline() -> None:
    """The route builds a policy per request; the threads behind it are the process's."""
    settings = Settings(host_lookup_seconds=2.5, source_hosts=["images.example"])
    first = OutboundPolicy.for_sources(settings).resolver
    again = OutboundPolicy.for_sources(settings).resolver
    assert isinstance(first, Lookups) and first is again
    assert first.deadline_s == 2.5


def test_the_webhook_pool_has_room_for_every_delivery_connecting_at_once() -> None:
    """A dispatcher runs webhook_concurrency deliveries together: its lookups fit the backlog."""
    lookups = OutboundPolicy.for_webhooks(Settings(host_lookups=2, webhook_concurrency=64)).resolver
    assert isinstance(lookups, Lookups)
    assert lookups.threads * BACKLOG >= 64
    small = OutboundPolicy.for_webhooks(Settings(host_lookups=4, webhook_concurrency=8)).resolver
    assert isinstance(small, Lookups) and small.threads == 4
