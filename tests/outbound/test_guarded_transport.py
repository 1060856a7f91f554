"""The address is checked again when a connection opens, and the connection goes to exactly
the address that was checked: DNS that changes after submission (rebinding) gets nowhere."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from huajia.errors import UrlRefused
from huajia.outbound import OutboundPolicy, check_webhook_target, guarded_client
from tests.outbound.receivers import receiving


class RebindingDns:
    """Answers a public address the first time, then whatever `later` says."""

    def __init__(self, later: Sequence[str]) -> None:
        self.later = list(later)
        self.calls = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls += 1
        return ["93.184.215.14"] if self.calls == 1 else self.later


async def post(policy: OutboundPolicy, url: str) -> httpx.Response:
    async with guarded_client(policy, timeout_s=5) as client:
        return await client.post(url, content=b"{}")


def test_a_name_rebound_to_loopback_after_submission_is_refused_at_delivery() -> None:
    with receiving() as receiver:
        dns = RebindingDns(later=["127.0.0.1"])
        policy = OutboundPolicy(allow_http=True, resolver=dns)
        url = receiver.url("rebind.example.com")
        check_webhook_target(url, policy)  # at submission it looked public
        with pytest.raises(UrlRefused):
            asyncio.run(post(policy, url))
        assert dns.calls == 2, "resolved again when connecting"
        assert receiver.connections == 0, "nothing reached the local receiver"


def test_one_refused_address_among_several_refuses_the_connection() -> None:
    with receiving() as receiver:
        dns = RebindingDns(later=["127.0.0.1", "10.0.0.1"])
        policy = OutboundPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), resolver=dns)
        dns.calls = 1
        with pytest.raises(UrlRefused):
            asyncio.run(post(policy, receiver.url("two.example.com")))
        assert receiver.connections == 0


def test_the_connection_goes_to_the_checked_address_and_keeps_the_name() -> None:
    with receiving() as receiver:
        dns = RebindingDns(later=["127.0.0.1"])
        dns.calls = 1
        policy = OutboundPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), resolver=dns)
        response = asyncio.run(post(policy, receiver.url("cms.example.com")))
        assert response.status_code == 204
        assert receiver.requests[0]["Host"] == f"cms.example.com:{receiver.port}"


def test_a_connection_to_our_own_port_on_our_own_address_is_refused() -> None:
    with receiving() as receiver:
        # As if Huajia listened on this port of an address that turns out to be this machine.
        own = (("192.0.2.1", receiver.port),)
        policy = OutboundPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), own_endpoints=own)
        with pytest.raises(UrlRefused):
            asyncio.run(post(policy, receiver.url()))


def test_redirects_are_not_followed() -> None:
    with receiving(status=302) as receiver:
        policy = OutboundPolicy(allow_http=True, allowed_hosts=("127.0.0.1",))
        response = asyncio.run(post(policy, receiver.url()))
        assert response.status_code == 302
        assert len(receiver.requests) == 1
