# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNAME on a real BIND 9 through RFC 2136 dynamic updates, and propagation checks against it."""

from __future__ import annotations

import os
from typing import Iterator

import dns.query
import dns.tsigkeyring
import dns.update
import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._cname import CnameRequest, Waiting, ensure_cname, run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_core import RaceError, RecordSet
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import (
    NameServer,
    answered_target,
    split_host_port,
    wait_for_cname,
    zone_nameservers,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_rfc2136 import Rfc2136Options, Rfc2136Provider
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import DnsError, NamingError
from tests.support.bind import BindServer, free_port, running_named

pytestmark = pytest.mark.bind
TARGET = "granitefalls.westus.cloudapp.azure.com"
OTHER = "granitefalls.eastus.cloudapp.azure.com"


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    """One named for this module (contoso.test and fabrikam.test)."""
    with running_named(("contoso.test", "fabrikam.test")) as server:
        yield server


def _options(bind: BindServer, **changes: object) -> Rfc2136Options:
    values = {"server": bind.host, "port": bind.port, "key_name": bind.key_name, "key_secret": bind.key_secret}
    values.update(changes)
    return Rfc2136Options(**values)  # type: ignore[arg-type]


def _ensure(bind: BindServer, name: str, target: str | None = TARGET, **request: object) -> dict:
    provider = Rfc2136Provider(_options(bind))
    values = {"service_name": name, "wait_timeout": 3.0}
    values.update(request)
    return ensure_cname(provider, name, CnameRequest(**values), target)  # type: ignore[arg-type]


def _direct_update(bind: BindServer, zone: str, name: str, rdtype: str, value: str) -> None:
    keyring = dns.tsigkeyring.from_text({bind.key_name: bind.key_secret})
    message = dns.update.UpdateMessage(zone, keyring=keyring, keyname=bind.key_name, keyalgorithm="hmac-sha256")
    message.replace(name, 300, rdtype, value)
    assert dns.query.tcp(message, bind.host, port=bind.port, timeout=3).rcode() == 0


def test_zone_found_by_soa_walk(bind: BindServer) -> None:
    provider = Rfc2136Provider(_options(bind))
    assert provider.zone_for("GraniteFalls.Sub.Contoso.Test.") == "contoso.test"


def test_zone_not_served_is_one_line(bind: BindServer) -> None:
    with pytest.raises(DnsError) as caught:
        Rfc2136Provider(_options(bind)).zone_for("x.northwind.test")
    assert str(caught.value) == (f"the DNS server {bind.address} is not authoritative for any zone that contains "
                                 "x.northwind.test; check server and port, or give the zone")


def test_apex_refused(bind: BindServer) -> None:
    with pytest.raises(NamingError, match=r"^contoso\.test is the apex of zone contoso\.test: a CNAME cannot stand"):
        _ensure(bind, "contoso.test")


def test_create_rerun_replace_absent(bind: BindServer) -> None:
    created = _ensure(bind, "Create.contoso.test")
    assert created["changed"] is True
    assert created["record"] == {"fqdn": "create.contoso.test", "target": TARGET, "ttl": 3600, "etag": None,
                                 "zone": "contoso.test", "provider": "rfc2136"}
    assert created["diff"] == {"before": {}, "after": {"fqdn": "create.contoso.test", "type": "CNAME", "target": TARGET,
                                                       "ttl": 3600}}
    assert created["propagation"] == [{"server": f"ns1.contoso.test ({bind.address})", "answer": TARGET, "ok": True}]

    again = _ensure(bind, "create.CONTOSO.test.")
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]

    with pytest.raises(DnsError) as caught:
        _ensure(bind, "create.contoso.test", OTHER)
    assert str(caught.value) == (f"create.contoso.test already is a CNAME for {TARGET}, not {OTHER}; nothing changed "
                                 "(set on_conflict=replace to point it at the new target)")
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "create.contoso.test", 2) == TARGET

    replaced = _ensure(bind, "create.contoso.test", OTHER, on_conflict="replace", ttl=60)
    assert (replaced["changed"], replaced["record"]["target"], replaced["record"]["ttl"]) == (True, OTHER, 60)
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "create.contoso.test", 2) == OTHER

    with pytest.raises(DnsError, match=f"is a CNAME for {OTHER}, not the wanted target {TARGET}: not deleted"):
        _ensure(bind, "create.contoso.test", TARGET, state="absent")
    removed = _ensure(bind, "create.contoso.test", OTHER, state="absent")
    assert (removed["changed"], removed["diff"]["after"]) == (True, {})
    assert removed["propagation"] == [{"server": f"ns1.contoso.test ({bind.address})", "answer": "NXDOMAIN", "ok": True}]
    gone = _ensure(bind, "create.contoso.test", OTHER, state="absent")
    assert (gone["changed"], gone["diff"]) == (False, {"before": {}, "after": {}})


def test_check_mode_writes_nothing(bind: BindServer) -> None:
    result = _ensure(bind, "check.contoso.test", check_mode=True)
    assert (result["changed"], result["propagation"]) == (True, [])
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "check.contoso.test", 2) == "NXDOMAIN"


def test_other_record_types_fail_and_stay(bind: BindServer) -> None:
    _direct_update(bind, "contoso.test", "busy.contoso.test.", "TXT", '"owned by someone"')
    _direct_update(bind, "contoso.test", "busy.contoso.test.", "A", "192.0.2.10")
    with pytest.raises(DnsError) as caught:
        _ensure(bind, "busy.contoso.test", on_conflict="replace")
    assert str(caught.value) == ("busy.contoso.test already has A, TXT record(s): a CNAME cannot coexist with other "
                                 "records and this module never deletes them; remove them or choose another name")
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "busy.contoso.test", 2) == "no CNAME"


def test_prerequisites_stop_a_concurrent_change(bind: BindServer) -> None:
    provider = Rfc2136Provider(_options(bind))
    name = "race.contoso.test"
    _direct_update(bind, "contoso.test", "race.contoso.test.", "CNAME", "someone.example.net.")
    with pytest.raises(RaceError):
        provider.replace(name, _desired(OTHER), _desired(TARGET))
    with pytest.raises(RaceError):
        provider.create(name, _desired(TARGET))
    with pytest.raises(RaceError):
        provider.delete(name, _desired(OTHER))
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "race.contoso.test", 2) == "someone.example.net"


def _desired(target: str) -> RecordSet:
    return RecordSet("CNAME", (target,), 3600)


@pytest.mark.parametrize("change,detail", [
    ({"key_name": "no-such-key"}, "TSIG key 'no-such-key'"),
    ({"key_secret": "c2VjcmV0LXRoYXQtaXMtd3Jvbmc="}, "TSIG key 'cmg-test-key'"),
])
def test_wrong_tsig_key_is_one_line(bind: BindServer, change: dict, detail: str) -> None:
    provider = Rfc2136Provider(_options(bind, **change))
    with pytest.raises(DnsError) as caught:
        ensure_cname(provider, "key.contoso.test", CnameRequest("key.contoso.test", wait=False), TARGET)
    message = str(caught.value)
    assert message.startswith(f"the DNS server {bind.address} rejected {detail} for zone contoso.test (")
    assert message.endswith("): check key_name, key_secret and key_algorithm")
    assert "\n" not in message
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "key.contoso.test", 2) == "NXDOMAIN"


def test_bad_options() -> None:
    with pytest.raises(DnsError, match="key_name and key_secret go together"):
        Rfc2136Provider(Rfc2136Options("127.0.0.1", key_name="k"))
    with pytest.raises(DnsError, match="key_algorithm 'hmac-sha999' is not supported"):
        Rfc2136Provider(Rfc2136Options("127.0.0.1", key_algorithm="hmac-sha999"))


def test_udp_protocol_works(bind: BindServer) -> None:
    provider = Rfc2136Provider(_options(bind, protocol="udp"))
    result = ensure_cname(provider, "udp.contoso.test", CnameRequest("udp.contoso.test", wait=False), TARGET)
    assert result["changed"] is True
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "udp.contoso.test", 2) == TARGET


def test_zone_nameservers_from_ns_records(bind: BindServer) -> None:
    assert zone_nameservers("fabrikam.test", (bind.host, bind.port), bind.port) == [
        NameServer("ns1.fabrikam.test", "127.0.0.1", bind.port)]


def test_wait_times_out_listing_answers(bind: BindServer) -> None:
    _direct_update(bind, "fabrikam.test", "wait.fabrikam.test.", "CNAME", f"{OTHER}.")
    server = NameServer(bind.host, bind.host, bind.port)
    with pytest.raises(DnsError) as caught:
        wait_for_cname("wait.fabrikam.test", TARGET, [server], timeout=0.3, interval=0.1)
    assert str(caught.value) == (f"wait.fabrikam.test did not propagate within 0.3s (wanted CNAME {TARGET}): "
                                 f"{bind.address} answers {OTHER}")
    assert caught.value.details == {"propagation": [{"server": bind.address, "answer": OTHER, "ok": False}]}
    assert wait_for_cname("wait.fabrikam.test", OTHER, [server], timeout=1) == [
        {"server": bind.address, "answer": OTHER, "ok": True}]


@pytest.mark.parametrize("value,expected", [
    ("ns1.contoso.com", ("ns1.contoso.com", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("2001:db8::1", ("2001:db8::1", 53)),
    ("[2001:db8::1]:5300", ("2001:db8::1", 5300)),
])
def test_split_host_port(value: str, expected: tuple[str, int]) -> None:
    assert split_host_port(value) == expected


def test_split_host_port_bad_port() -> None:
    with pytest.raises(DnsError, match="the name server 'ns1:99999' has an invalid port"):
        split_host_port("ns1:99999")


def test_named_starts_and_stops() -> None:
    """No wall-clock bound (issue 11): it answers once started, and is gone after."""
    with running_named(("northwind.test",)) as server:
        assert answered_target(NameServer(server.host, server.host, server.port), "ns1.northwind.test", 2) == "no CNAME"
    assert server.process.poll() is not None
    assert not os.path.exists(server.directory)


def test_server_given_as_host_name(bind: BindServer) -> None:
    """dnspython takes addresses only: the name is resolved once, and kept in messages."""
    provider = Rfc2136Provider(_options(bind, server="localhost"))
    assert (provider.address, provider.where) == ((bind.host, bind.port), f"localhost:{bind.port}")
    result = ensure_cname(provider, "byname.contoso.test", CnameRequest("byname.contoso.test", wait_timeout=3.0), TARGET)
    assert (result["changed"], result["record"]["target"]) == (True, TARGET)
    assert result["propagation"] == [{"server": f"ns1.contoso.test ({bind.address})", "answer": TARGET, "ok": True}]
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "byname.contoso.test", 2) == TARGET


def test_unresolvable_server_is_one_line() -> None:
    with pytest.raises(DnsError) as caught:
        Rfc2136Provider(Rfc2136Options("no-such-host.invalid", zone="contoso.test")).read("a.contoso.test", "CNAME")
    assert str(caught.value) == "cannot resolve the DNS server no-such-host.invalid to an address: check server"


def _module_params(bind: BindServer, name: str, **changes: object) -> dict:
    params = {"service_name": name, "target": TARGET, "provider": "rfc2136", "server": bind.host, "port": bind.port,
              "key_name": bind.key_name, "key_secret": bind.key_secret}
    params.update(changes)
    return params


def test_ttl_zero_is_refused_not_defaulted(bind: BindServer) -> None:
    with pytest.raises(DnsError) as caught:
        run_cname(_module_params(bind, "zero.contoso.test", ttl=0))
    assert str(caught.value) == "ttl must be between 1 and 2147483647 seconds, not 0"
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "zero.contoso.test", 2) == "NXDOMAIN"


def test_wait_timeout_zero_checks_once(bind: BindServer) -> None:
    """wait_timeout 0 asks the servers once instead of waiting the default 300s."""
    dead = f"127.0.0.1:{free_port()}"
    slept: list[float] = []
    with pytest.raises(DnsError) as caught:
        run_cname(_module_params(bind, "once.contoso.test", nameservers=[dead], wait_timeout=0),
                  waiting=Waiting(clock=lambda: 1000.0, sleep=slept.append))
    assert str(caught.value).startswith(f"once.contoso.test did not propagate within 0s (wanted CNAME {TARGET}): "
                                        f"{dead} answers ")
    assert caught.value.details["changed"] is True
    assert slept == []  # one round of queries, no pause: the injected clock never moved past the deadline


@pytest.mark.parametrize("environ, region, target", [
    ({"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}, "usgovvirginia", "govcmg.usgovvirginia.cloudapp.usgovcloudapi.net"),
    ({"AZURE_CLOUD_ENVIRONMENT": "https://management.local.azurestack.external"}, "westus", "govcmg.westus.cloudapp.azure.com"),
])
def test_region_target_follows_azure_cloud_environment(bind: BindServer, environ: dict, region: str, target: str) -> None:
    """Without cloud_environment the cloud comes from AZURE_CLOUD_ENVIRONMENT; a URL cloud names like AzureCloud."""
    result = run_cname(_module_params(bind, "GovCmg.contoso.test", target=None, region=region), check_mode=True, environ=environ)
    assert (result["changed"], result["record"]["target"]) == (True, target)
