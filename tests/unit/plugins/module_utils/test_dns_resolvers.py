# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The optional recursive-resolver check after the authoritative one, against a real caching BIND
resolver (forward only to the authoritative BIND, both on loopback). Waits use an injected clock."""

from __future__ import annotations

from typing import Iterator

import dns.message
import dns.query
import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._cname import Waiting, run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import DnsError
from tests.support.bind import BindServer, running_named, running_resolver

pytestmark = pytest.mark.bind
TARGET = "granitefalls.westus.cloudapp.azure.com"
OTHER = "granitefalls.eastus.cloudapp.azure.com"


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    with running_named(("contoso.test",)) as server:
        yield server


@pytest.fixture(scope="module")
def resolver(bind: BindServer) -> Iterator[BindServer]:
    with running_resolver(bind) as server:
        yield server


class Clock:
    """A clock that moves only when the code sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _params(bind: BindServer, resolver: BindServer, name: str, **changes: object) -> dict:
    params = {"service_name": name, "target": TARGET, "provider": "rfc2136", "server": bind.host, "port": bind.port,
              "key_name": bind.key_name, "key_secret": bind.key_secret, "resolvers": [resolver.address],
              "wait_timeout": 2}
    params.update(changes)
    return params


def _ask(resolver: BindServer, name: str) -> int:
    return dns.query.udp(dns.message.make_query(name, "CNAME"), resolver.host, port=resolver.port, timeout=3).rcode()


def test_resolver_answers_the_new_cname(bind: BindServer, resolver: BindServer) -> None:
    clock = Clock()
    result = run_cname(_params(bind, resolver, "fresh.contoso.test"), waiting=Waiting(lambda: clock.now, clock.sleep))
    assert result["resolution"] == [{"resolver": resolver.address, "answer": TARGET, "ok": True, "cached_for": None,
                                     "negative": False}]
    assert result["propagation"][0]["ok"] is True


def test_cached_nxdomain_is_reported_with_the_soa_minimum(bind: BindServer, resolver: BindServer) -> None:
    """A resolver asked before the record existed keeps NXDOMAIN for the SOA minimum (60 s in the test zone)."""
    assert _ask(resolver, "early.contoso.test") == 3  # NXDOMAIN, now in the resolver's negative cache
    clock = Clock()
    with pytest.raises(DnsError) as caught:
        run_cname(_params(bind, resolver, "early.contoso.test"), waiting=Waiting(lambda: clock.now, clock.sleep))
    message = str(caught.value)
    assert message.startswith(f"early.contoso.test does not resolve as wanted through the resolvers within 2s (wanted "
                              f"CNAME {TARGET}): {resolver.address} still holds the old answer NXDOMAIN for up to "), message
    assert message.endswith(" s (negative caching: the zone's SOA minimum)")
    (entry,) = caught.value.details["resolution"]
    assert (entry["ok"], entry["negative"], 0 < entry["cached_for"] <= 60) == (False, True, True)
    assert caught.value.details["changed"] is True  # written, and the authoritative server has it
    assert caught.value.details["propagation"][0]["ok"] is True
    assert sum(clock.slept) == pytest.approx(2.0)  # it waited the whole timeout (on the injected clock)


def test_cached_old_target_is_reported_with_its_ttl(bind: BindServer, resolver: BindServer) -> None:
    run_cname(_params(bind, resolver, "moved.contoso.test", target=OTHER, ttl=300, resolvers=[]))
    dns.query.udp(dns.message.make_query("moved.contoso.test", "CNAME"), resolver.host, port=resolver.port, timeout=3)
    clock = Clock()
    with pytest.raises(DnsError) as caught:
        run_cname(_params(bind, resolver, "moved.contoso.test", on_conflict="replace", wait_timeout=0),
                  waiting=Waiting(lambda: clock.now, clock.sleep))
    assert f"still holds the old answer {OTHER} for up to " in str(caught.value)
    assert str(caught.value).endswith(" s (the old record's TTL)")
    (entry,) = caught.value.details["resolution"]
    assert (entry["answer"], entry["negative"], 0 < entry["cached_for"] <= 300) == (OTHER, False, True)
    assert clock.slept == []  # wait_timeout 0: one round


def test_bad_resolver_syntax_is_refused_before_any_write(bind: BindServer, resolver: BindServer) -> None:
    with pytest.raises(DnsError, match=r"^the name server '\[::1' is not"):
        run_cname(_params(bind, resolver, "never.contoso.test", resolvers=["[::1"]))
    assert _ask(bind, "never.contoso.test") == 3
