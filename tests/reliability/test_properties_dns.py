# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests (hypothesis) of the DNS option and answer parsers, and the hostile inputs of issue 10.

Invariant: a one-line DnsError, or a valid result; never another exception. Examples that once
broke a parser are pinned with ``@example``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.configmgr.cmg.plugins.module_utils._cname import run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_azure import _checked_zone
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_core import check_dns_name, check_port, check_timeout
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import split_host_port
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import DnsError

SETTINGS = settings(max_examples=200, deadline=None)
HOSTISH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_:[]% \t\u00e9\u0000", max_size=60)


def _one_line(exc: DnsError) -> None:
    assert "\n" not in str(exc) and 0 < len(str(exc)) < 400


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        return check_dns_name(host, "host") == host.rstrip(".").lower()
    except DnsError:
        return False


@SETTINGS
@given(st.one_of(HOSTISH, st.builds(lambda h, p: f"{h}:{p}", HOSTISH, st.integers(-5, 99999))))
@example("[::1")
@example("[::1]:0")
@example("[::1]x")
@example("::1]")
@example("ns1:70000")
@example("ns1:")
@example("[ns1]:53")
def test_name_server_option(value: str) -> None:
    try:
        host, port = split_host_port(value)
    except DnsError as exc:
        _one_line(exc)
        return
    assert 1 <= port <= 65535
    assert _valid_host(host), (value, host)


@pytest.mark.parametrize("value", ["[::1", "[::1]x", "::1]", "[2001:db8::1:53"])
def test_unbalanced_brackets_are_refused_not_guessed(value: str) -> None:
    with pytest.raises(DnsError, match="is not"):
        split_host_port(value)


@SETTINGS
@given(st.one_of(st.integers(-10**6, 10**6), st.text(max_size=12), st.booleans(), st.none(), st.floats()))
@example(0)
@example(70000)
@example(65535)
def test_port_option(value: Any) -> None:
    try:
        port = check_port(value)
    except DnsError as exc:
        _one_line(exc)
        return
    assert isinstance(port, int) and 1 <= port <= 65535


@SETTINGS
@given(st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=8), st.none()))
@example(-1)
@example(float("nan"))
def test_wait_timeout_option(value: Any) -> None:
    try:
        seconds = check_timeout(value)
    except DnsError as exc:
        _one_line(exc)
        return
    assert 0 <= seconds <= 86400


ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=6)
ZONE_IDS = st.one_of(ANY_JSON, st.just("/subscriptions/s/resourceGroups/rg-dns/providers/Microsoft.Network/dnszones/x"),
                     st.just("/subscriptions/s/resourceGroups/"), st.just("resourceGroups"))
ZONE_NAMES = st.one_of(ANY_JSON, st.just("contoso.com"), st.just("contoso..com"), st.just("-bad-.com"), st.just("a" * 300))


@SETTINGS
@given(ZONE_NAMES, ZONE_IDS, st.one_of(ANY_JSON, st.lists(st.text(max_size=20), max_size=3)), st.booleans())
@example("contoso.com", "/subscriptions/s/resourceGroups/", ["ns1"], True)
@example(None, "/subscriptions/s/resourceGroups/rg/providers/x/y", [], True)
@example("contoso.com", "/subscriptions/s/resourceGroups/rg/providers/x/y", "ns1", False)
def test_zone_listing(name: Any, zone_id: Any, name_servers: Any, wrapped: bool) -> None:
    """A listed zone in its REST shape (``properties.nameServers``), or with ``properties`` itself malformed."""
    zone = {"name": name, "id": zone_id, "properties": {"nameServers": name_servers} if wrapped else name_servers}
    try:
        checked = _checked_zone(zone, "subscription s")
    except DnsError as exc:
        _one_line(exc)
        return
    assert check_dns_name(checked.name, "zone")
    assert "resourcegroups/" in checked.id.lower()
    assert all(isinstance(server, str) for server in checked.name_servers)


@SETTINGS
@given(ANY_JSON)
def test_zone_that_is_no_object(item: Any) -> None:
    try:
        _checked_zone(item, "subscription s")
    except DnsError as exc:
        _one_line(exc)


RECORD_VALUES = st.one_of(ANY_JSON, st.just({"cname": "x.contoso.com"}), st.just([{"value": ["a", "b"]}]),
                          st.just([{"value": "ab"}]), st.just({"value": ["a" * 5000]}))


@SETTINGS
@given(st.sampled_from(["CNAME", "TXT", "A"]), st.one_of(ANY_JSON, st.just("etag-1")), st.one_of(ANY_JSON, st.just(300)),
       RECORD_VALUES, st.one_of(ANY_JSON, st.just({"k": "v"})), st.booleans())
@example("CNAME", "etag-1", 300, {"cname": "x.contoso.com"}, {"k": "v"}, True)
@example("TXT", "etag-1", True, [{"value": ["a", "b"]}], None, True)
def test_record_set_answer(rtype: str, etag: Any, ttl: Any, values: Any, metadata: Any, wrapped: bool) -> None:
    """Any JSON where a record set belongs: a RecordSet of the right types, or one line (never a traceback)."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_azure import AzureDnsProvider

    key = {"CNAME": "CNAMERecord", "TXT": "TXTRecords", "A": "ARecords"}[rtype]
    properties = {"TTL": ttl, key: values, "metadata": metadata}
    record = {"etag": etag, "properties": properties} if wrapped else properties
    try:
        parsed = AzureDnsProvider._state(record, rtype, "reading it")  # pylint: disable=protected-access
    except DnsError as exc:
        _one_line(exc)
        assert str(exc).startswith(f"Azure answered without a valid {rtype} record set while reading it (")
        return
    assert isinstance(parsed.etag, str) and (parsed.ttl is None or (isinstance(parsed.ttl, int) and not isinstance(parsed.ttl, bool)))
    assert all(isinstance(value, str) for value in parsed.values)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.metadata.items())


BASE = {"service_name": "GraniteFalls.contoso.test", "target": "granitefalls.westus.cloudapp.azure.com",
        "provider": "rfc2136", "server": "127.0.0.1", "zone": "contoso.test", "wait": False}


@pytest.mark.parametrize("change, message", [
    ({"port": 70000}, "port must be a port number from 1 to 65535, not 70000"),
    ({"port": 0}, "port must be a port number from 1 to 65535, not 0"),
    ({"key_name": "not a name!", "key_secret": "c2VjcmV0"}, "key_name 'not a name!' is not a DNS name"),
    ({"wait_timeout": -5}, "wait_timeout must be between 0 and 86400 seconds, not -5"),
    ({"server": "[::1"}, "server '[::1' is not a host name or an IP address (unbalanced brackets)"),
    ({"nameservers": ["[::1"], "wait": True}, "the name server '[::1' is not '[IPv6 address]'"),
])
def test_hostile_options_are_one_line_before_any_traffic(change: dict, message: str) -> None:
    """10.5/10.6: refused with one line, before any query or update (no server listens on 127.0.0.1:53 here)."""
    with pytest.raises(DnsError) as caught:
        run_cname({**BASE, **change})
    assert str(caught.value).startswith(message), str(caught.value)
    _one_line(caught.value)
