"""Webhook host lookups: each within a deadline, on a few threads that serve no request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from huajia.errors import UrlRefused
from huajia.lookups import Lookups
from huajia.outbound import OutboundPolicy, check_webhook_target, resolve_async
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


def test_no_more_lookups_run_than_the_threads_and_one_more_is_refused_at_once(
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
    for url in ("https://slow.example/", "https://fast.example/"):
        message, waited = refusal(url, policy)
        assert "too many host names are being looked up" in message
        assert waited < 0.2, "refused at once, not queued behind the stuck lookups"
    assert dns.most_busy == 2
    dns.release.set()
    deadline = time.monotonic() + 5
    while dns.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the slots come back as the lookups end
    check_webhook_target("https://fast.example/hook", policy)


def test_the_connection_guard_awaits_a_lookup_within_the_deadline(dns: SilentDns) -> None:
    policy = OutboundPolicy(resolver=Lookups(dns, threads=1, deadline_s=0.2))

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(UrlRefused, match="not resolved within"):
            await resolve_async("slow.example", 443, policy)
        assert time.monotonic() - started < 2
        with pytest.raises(UrlRefused, match="too many"):
            await resolve_async("fast.example", 443, policy)

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
