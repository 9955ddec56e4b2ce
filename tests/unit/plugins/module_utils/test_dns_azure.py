# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNAME in Azure DNS: plain Resource Manager requests (azure-core's pipeline) over HTTPS against the local sandbox."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._cname import run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import AzureError, DnsError, NamingError
from tests.support.azure_sandbox import AzureSandbox
from tests.support.azure_sandbox import dns as sandbox_dns

TARGET = "granitefalls.westus.cloudapp.azure.com"
OTHER = "granitefalls.eastus.cloudapp.azure.com"
RECORD_PATH = (f"/subscriptions/{AzureSandbox.subscription_id}/resourceGroups/rg-dns/providers/Microsoft.Network/"
               "dnsZones/contoso.com/CNAME/granitefalls")


@pytest.fixture
def sb(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> AzureSandbox:
    """The sandbox with contoso.com (rg-dns), eu.contoso.com (rg-eu) and the environment pointing at it."""
    for key, value in azure_sandbox.env().items():
        monkeypatch.setenv(key, value)
    sandbox_dns.add_zone(azure_sandbox, "contoso.com")
    sandbox_dns.add_zone(azure_sandbox, "eu.contoso.com", "rg-eu")
    return azure_sandbox


def _run(check_mode: bool = False, **params: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"service_name": "GraniteFalls.contoso.com", "target": TARGET, "wait": False}
    values.update(params)
    return run_cname(values, check_mode=check_mode)


def _cname(target: str, ttl: int = 3600, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {"TTL": ttl, "CNAMERecord": {"cname": target}, "metadata": metadata or {}}


def _stored(sb: AzureSandbox, name: str = "granitefalls") -> dict[str, Any] | None:
    return sandbox_dns.get_record(sb, "contoso.com", name)


def test_create_then_rerun_sends_no_put(sb: AzureSandbox) -> None:
    created = _run(metadata={"change": "CHG1"})
    stored = _stored(sb)
    assert stored is not None
    assert created["changed"] is True
    assert created["record"] == {"fqdn": "granitefalls.contoso.com", "target": TARGET, "ttl": 3600,
                                 "etag": stored["etag"], "zone": "contoso.com", "provider": "azure_dns"}
    assert stored["properties"]["CNAMERecord"] == {"cname": TARGET}
    assert stored["properties"]["metadata"] == {"change": "CHG1", "managed-by": "configmgr.cmg.cmg_cname"}
    put = sb.writes()
    assert [(r.method, r.path, r.headers.get("if-none-match"), r.headers.get("if-match")) for r in put] == [
        ("PUT", RECORD_PATH, "*", None)]
    assert put[0].query["api-version"] == "2018-05-01"
    assert put[0].body == {"properties": {"metadata": {"change": "CHG1", "managed-by": "configmgr.cmg.cmg_cname"},
                                          "TTL": 3600, "CNAMERecord": {"cname": TARGET}}}

    sb.clear_requests()
    again = _run(metadata={"change": "CHG1"})
    assert again["changed"] is False
    assert sb.writes() == []
    assert [(r.method, r.path) for r in sb.arm_requests()][-1] == ("GET", RECORD_PATH)


def test_ttl_change_updates_with_if_match_and_keeps_foreign_metadata(sb: AzureSandbox) -> None:
    before = sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME",
                                    _cname(TARGET, 3600, {"owner": "network-team", "managed-by": "configmgr.cmg.cmg_cname"}))
    result = _run(ttl=300)
    assert (result["changed"], result["record"]["ttl"]) == (True, 300)
    assert [(r.method, r.headers.get("if-match")) for r in sb.writes()] == [("PUT", before["etag"])]
    assert _stored(sb)["properties"]["metadata"] == {"owner": "network-team", "managed-by": "configmgr.cmg.cmg_cname"}


def test_missing_stamp_is_a_change(sb: AzureSandbox) -> None:
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(TARGET))
    assert _run()["changed"] is True
    assert _stored(sb)["properties"]["metadata"] == {"managed-by": "configmgr.cmg.cmg_cname"}


def test_target_change_fail_then_replace(sb: AzureSandbox) -> None:
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(OTHER))
    with pytest.raises(DnsError) as caught:
        _run()
    assert str(caught.value) == (f"granitefalls.contoso.com already is a CNAME for {OTHER}, not {TARGET}; nothing "
                                 "changed (set on_conflict=replace to point it at the new target)")
    assert caught.value.details == {"current_target": OTHER, "wanted_target": TARGET}
    assert sb.writes() == []
    replaced = _run(on_conflict="replace")
    assert (replaced["changed"], replaced["record"]["target"]) == (True, TARGET)
    assert _stored(sb)["properties"]["CNAMERecord"] == {"cname": TARGET}


def test_region_derives_target(sb: AzureSandbox) -> None:
    result = run_cname({"service_name": "GraniteFalls.contoso.com", "region": "West US", "wait": False})
    assert result["record"]["target"] == TARGET


def test_a_record_at_the_name_fails_and_stays(sb: AzureSandbox) -> None:
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "A", {"TTL": 300, "ARecords": [{"ipv4Address": "10.1.2.3"}]})
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "TXT", {"TTL": 300, "TXTRecords": [{"value": ["x"]}]})
    with pytest.raises(DnsError) as caught:
        _run(on_conflict="replace")
    assert str(caught.value) == ("granitefalls.contoso.com already has A, TXT record(s): a CNAME cannot coexist with "
                                 "other records and this module never deletes them; remove them or choose another name")
    assert sb.writes() == []


def test_conflict_409_names_the_other_records(sb: AzureSandbox) -> None:
    sandbox_dns.inject_race(sb, "contoso.com", "granitefalls", {"TTL": 300, "ARecords": [{"ipv4Address": "10.1.2.3"}]},
                            rtype="A")
    with pytest.raises(DnsError) as caught:
        _run()
    assert str(caught.value).startswith("granitefalls.contoso.com already has A record(s): a CNAME cannot coexist")
    assert _stored(sb) is None


def test_apex_refused(sb: AzureSandbox) -> None:
    with pytest.raises(NamingError, match=r"^contoso\.com is the apex of zone contoso\.com: a CNAME cannot stand at a zone apex"):
        _run(service_name="contoso.com")
    assert sb.writes() == []


def test_zone_not_found(sb: AzureSandbox) -> None:
    with pytest.raises(DnsError) as caught:
        _run(service_name="GraniteFalls.fabrikam.com")
    assert str(caught.value) == (f"no Azure DNS zone in subscription {sb.subscription_id} contains granitefalls.fabrikam.com; "
                                 "create the zone, or give zone and resource_group")
    with pytest.raises(DnsError, match=r"^the DNS zone contoso\.com was not found in resource group rg-eu of subscription"):
        _run(zone="contoso.com", resource_group="rg-eu")


def test_longest_zone_wins(sb: AzureSandbox) -> None:
    result = _run(service_name="GraniteFalls.eu.contoso.com")
    assert result["record"]["zone"] == "eu.contoso.com"
    assert [r.path.split("/")[4] for r in sb.writes()] == ["rg-eu"]


def test_412_race_rereads_and_reconciles_once(sb: AzureSandbox) -> None:
    first = sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(TARGET, 3600))
    sandbox_dns.inject_race(sb, "contoso.com", "granitefalls", _cname(TARGET, 600, {"owner": "someone"}))
    result = _run(ttl=300)
    writes = sb.writes()
    assert [r.headers.get("if-match") for r in writes][0] == first["etag"]
    assert len(writes) == 2 and writes[1].headers["if-match"] != first["etag"]
    assert result["changed"] is True
    assert _stored(sb)["properties"]["TTL"] == 300
    assert _stored(sb)["properties"]["metadata"] == {"owner": "someone", "managed-by": "configmgr.cmg.cmg_cname"}


def test_412_twice_fails_clearly(sb: AzureSandbox) -> None:
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(TARGET, 3600))
    sandbox_dns.inject_race(sb, "contoso.com", "granitefalls", _cname(TARGET, 600), times=2)
    with pytest.raises(DnsError) as caught:
        _run(ttl=300)
    assert str(caught.value).startswith("granitefalls.contoso.com was changed by someone else twice while this task "
                                        "updated it; nothing was overwritten, run the task again")
    assert _stored(sb)["properties"]["TTL"] == 600


def test_412_race_to_another_target_fails_without_overwriting(sb: AzureSandbox) -> None:
    sandbox_dns.inject_race(sb, "contoso.com", "granitefalls", _cname(OTHER))
    with pytest.raises(DnsError, match=f"already is a CNAME for {OTHER}, not {TARGET}; nothing changed"):
        _run()
    assert _stored(sb)["properties"]["CNAMERecord"] == {"cname": OTHER}


def test_absent_matching_not_matching_already_gone(sb: AzureSandbox) -> None:
    record = sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(OTHER))
    with pytest.raises(DnsError) as caught:
        _run(state="absent")
    assert str(caught.value) == (f"granitefalls.contoso.com is a CNAME for {OTHER}, not the wanted target {TARGET}: not "
                                 "deleted (set on_conflict=replace to delete it anyway)")
    assert sb.writes() == []
    removed = _run(state="absent", target=OTHER)
    assert (removed["changed"], removed["record"]["target"]) == (True, None)
    assert [(r.method, r.path, r.headers.get("if-match")) for r in sb.writes()] == [("DELETE", RECORD_PATH, record["etag"])]
    sb.clear_requests()
    gone = _run(state="absent", target=OTHER)
    assert gone["changed"] is False
    assert sb.writes() == []


def test_check_mode_sends_no_write(sb: AzureSandbox) -> None:
    created = _run(check_mode=True)
    assert created["changed"] is True
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(OTHER))
    replaced = _run(check_mode=True, on_conflict="replace")
    deleted = _run(check_mode=True, state="absent", target=OTHER)
    assert (replaced["changed"], deleted["changed"]) == (True, True)
    assert sb.writes() == []
    assert _stored(sb)["properties"]["CNAMERecord"] == {"cname": OTHER}


def test_diff_before_after(sb: AzureSandbox) -> None:
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(OTHER, 60, {"owner": "it"}))
    result = _run(on_conflict="replace")
    assert result["diff"] == {
        "before": {"fqdn": "granitefalls.contoso.com", "type": "CNAME", "target": OTHER, "ttl": 60,
                   "metadata": {"owner": "it"}},
        "after": {"fqdn": "granitefalls.contoso.com", "type": "CNAME", "target": TARGET, "ttl": 3600,
                  "metadata": {"managed-by": "configmgr.cmg.cmg_cname", "owner": "it"}},
    }


def test_target_and_region_together_refused(sb: AzureSandbox) -> None:
    with pytest.raises(DnsError, match="give target or region, not both"):
        _run(region="westus")


ZONE_PATH = RECORD_PATH.rsplit("/CNAME/", 1)[0]


def test_empty_cname_record_set_is_overwritten_with_if_match(sb: AzureSandbox) -> None:
    """A CNAME record set without a record exists: If-None-Match: * would fail twice, If-Match succeeds."""
    empty = sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", {"TTL": 300})
    result = _run()
    assert (result["changed"], result["record"]["target"], result["record"]["ttl"]) == (True, TARGET, 3600)
    assert result["diff"]["before"] == {}
    assert [(r.method, r.path, r.headers.get("if-none-match"), r.headers.get("if-match")) for r in sb.writes()] == [
        ("PUT", RECORD_PATH, None, empty["etag"])]
    assert _stored(sb)["properties"]["CNAMERecord"] == {"cname": TARGET}


def test_ttl_zero_is_refused_not_defaulted(sb: AzureSandbox) -> None:
    with pytest.raises(DnsError) as caught:
        _run(ttl=0)
    assert str(caught.value) == "ttl must be between 1 and 2147483647 seconds, not 0"
    assert sb.arm_requests() == []


def test_absent_reads_no_other_record_types(sb: AzureSandbox) -> None:
    result = _run(state="absent", zone="contoso.com", resource_group="rg-dns")
    assert result["changed"] is False
    assert [(r.method, r.path) for r in sb.arm_requests()] == [("GET", ZONE_PATH), ("GET", RECORD_PATH)]


def test_zone_and_resource_group_get_the_zone_without_listing(sb: AzureSandbox) -> None:
    created = _run(zone="contoso.com", resource_group="rg-dns")
    assert (created["changed"], created["record"]["zone"]) == (True, "contoso.com")
    assert [r.path for r in sb.arm_requests() if not r.path.startswith(ZONE_PATH + "/")] == [ZONE_PATH]
    sb.clear_requests()
    with pytest.raises(DnsError) as caught:
        _run(zone="contoso.com", resource_group="rg-eu")
    assert str(caught.value) == (f"the DNS zone contoso.com was not found in resource group rg-eu of subscription "
                                 f"{sb.subscription_id}; create the zone, or give zone and resource_group")
    assert caught.value.details == {}
    assert [(r.method, r.path) for r in sb.arm_requests()] == [("GET", ZONE_PATH.replace("rg-dns", "rg-eu"))]


def test_conflict_409_message_is_the_read_message(sb: AzureSandbox) -> None:
    """The 409 of a write and the read before it name other records with one message."""
    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "TXT", {"TTL": 300, "TXTRecords": [{"value": ["x"]}]})
    with pytest.raises(DnsError) as read_error:
        _run()
    sandbox_dns.inject_race(sb, "contoso.com", "other", {"TTL": 300, "TXTRecords": [{"value": ["x"]}]}, rtype="TXT")
    with pytest.raises(DnsError) as write_error:
        _run(service_name="other.contoso.com")
    assert (str(write_error.value), write_error.value.details) == (
        str(read_error.value).replace("granitefalls.", "other."), read_error.value.details)
    assert read_error.value.details == {"other_records": ["TXT"]}


@pytest.mark.parametrize("listed", [["127.0.0.1"], ["127.0.0.1."]])
def test_zone_name_servers_with_or_without_trailing_dot(sb: AzureSandbox, listed: list[str]) -> None:
    """Azure lists a zone's name servers without trailing dots (dns_zones_get.json); a trailing dot works the same."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._azure import AzureSession
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_azure import AzureDnsProvider
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer

    sandbox_dns.add_zone(sb, "fabrikam.com", name_servers=listed)
    with AzureSession.from_options({}) as session:
        provider = AzureDnsProvider(session, "fabrikam.com", "rg-dns")
        assert sb.arm_requests() == []  # the constructor does no network work
        assert provider.nameservers("GraniteFalls.fabrikam.com") == [NameServer("127.0.0.1", "127.0.0.1", 53)]


def test_written_then_name_servers_unresolvable_keeps_changed_and_record(sb: AzureSandbox) -> None:
    """9.2: the PUT was sent, then the zone's name servers do not resolve: the failure still says changed,
    carries the record as written, and says why the propagation wait did not run."""
    sandbox_dns.add_zone(sb, "fabrikam.com", name_servers=["ns1.no-such-zone.invalid"])
    with pytest.raises(DnsError) as caught:
        _run(service_name="GraniteFalls.fabrikam.com", wait=True, wait_timeout=5)
    details = caught.value.details
    assert str(caught.value).startswith("none of the zone's name servers resolve to an address: ns1.no-such-zone.invalid")
    assert details["changed"] is True
    assert details["record"]["target"] == TARGET and details["record"]["zone"] == "fabrikam.com"
    assert details["propagation_skip_reason"].startswith("the zone's name servers could not be found: none of the zone's")
    assert sandbox_dns.get_record(sb, "fabrikam.com", "granitefalls")["properties"]["CNAMERecord"] == {"cname": TARGET}


def test_wait_false_and_check_mode_say_why_there_was_no_wait(sb: AzureSandbox) -> None:
    assert _run(check_mode=True, wait=True)["propagation_skip_reason"] == (
        "check mode: nothing was written, so nothing was waited for")
    assert _run()["propagation_skip_reason"] == "wait is false"


# --- plain REST: paging, answers' shapes, conditional headers --------------------------------------------------------
LIST_PATH = f"/subscriptions/{AzureSandbox.subscription_id}/providers/Microsoft.Network/dnszones"


def _provider(zone: str | None = None, resource_group: str | None = None) -> Any:
    from ansible_collections.configmgr.cmg.plugins.module_utils._azure import AzureSession
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_azure import AzureDnsProvider

    return AzureDnsProvider(AzureSession.from_options({}), zone, resource_group)


def test_zone_listing_follows_next_link_to_the_last_page(sb: AzureSandbox) -> None:
    """Zones_List answers in pages linked by nextLink (with an opaque, percent-encoded $skipToken): the zone on the
    last page is found, every page asked with api-version 2018-05-01."""
    for name in ("a.fabrikam.com", "b.fabrikam.com", "fabrikam.com"):
        sandbox_dns.add_zone(sb, name, "rg-fab")
    sandbox_dns.set_zone_page_size(sb, 2)
    result = _run(service_name="GraniteFalls.fabrikam.com")
    assert (result["changed"], result["record"]["zone"]) == (True, "fabrikam.com")
    pages = [r for r in sb.arm_requests() if r.path == LIST_PATH]
    assert [(r.query.get("api-version"), "$skipToken" in r.query) for r in pages] == [
        ("2018-05-01", False), ("2018-05-01", True), ("2018-05-01", True)]
    assert [r.path.split("/")[4] for r in sb.writes()] == ["rg-fab"]


@pytest.mark.parametrize("link, shown", [
    ("http://127.0.0.1:{port}" + LIST_PATH + "?api-version=2018-05-01&$skipToken=x", "http://127.0.0.1:{port}"),
    ("https://attacker.test" + LIST_PATH + "?$skipToken=x", "https://attacker.test"),
    ("https://127.0.0.1:1" + LIST_PATH, "https://127.0.0.1:1/"),
    ("/relative" + LIST_PATH, "/relative"),
    (["not", "a", "link"], "['not'"),
])
def test_next_link_off_https_or_the_host_is_refused(sb: AzureSandbox, link: Any, shown: str) -> None:
    """A nextLink is followed only on https at the Resource Manager host: anything else is one line, never sent."""
    port = sb.url.rsplit(":", 1)[1]
    link = link.format(port=port) if isinstance(link, str) else link
    sb.fault("GET", re.escape(LIST_PATH), 200, body={"value": [], "nextLink": link})
    with pytest.raises(AzureError) as caught:
        _run()
    message = str(caught.value)
    assert message.startswith("Azure answered a next page at ") and shown.format(port=port) in message, message
    assert message.endswith(f" while listing the DNS zones of subscription {sb.subscription_id}: refused, next pages "
                            f"are read only over https from the Resource Manager {sb.url}/")
    assert "\n" not in message
    assert [r.path for r in sb.arm_requests()] == [LIST_PATH]
    assert sb.writes() == []


def test_endless_listing_stops_after_the_page_bound(sb: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.configmgr.cmg.plugins.module_utils import _dns_azure

    monkeypatch.setattr(_dns_azure, "MAX_ZONE_PAGES", 3)
    sb.fault("GET", re.escape(LIST_PATH), 200, times=10,
             body={"value": [], "nextLink": f"{sb.url}{LIST_PATH}?api-version=2018-05-01&$skipToken=again"})
    with pytest.raises(DnsError) as caught:
        _run()
    assert str(caught.value) == (f"Azure's listing of the DNS zones of subscription {sb.subscription_id} went on for "
                                 "more than 3 pages: give zone and resource_group")
    assert len(sb.arm_requests()) == 3


def test_too_many_zones_is_one_line(sb: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.configmgr.cmg.plugins.module_utils import _dns_azure

    monkeypatch.setattr(_dns_azure, "MAX_ZONES", 1)
    with pytest.raises(DnsError, match=r"^Azure listed more than 1 DNS zones in subscription .*: give zone and resource_group$"):
        _run()
    assert sb.writes() == []


@pytest.mark.parametrize("body, problem", [
    ([], "got list, not a JSON object"),
    ("<html>", "got str, not a JSON object"),
    ({"etag": "e1"}, "no properties object"),
    ({"etag": "e1", "properties": ["TTL"]}, "no properties object"),
    ({"properties": {"TTL": 300}}, "no etag"),
    ({"etag": 7, "properties": {"TTL": 300}}, "no etag"),
    ({"etag": "e" * 300, "properties": {"TTL": 300}}, "no etag"),
    ({"etag": "e1", "properties": {"TTL": "300"}}, "TTL is not a whole number"),
    ({"etag": "e1", "properties": {"TTL": True}}, "TTL is not a whole number"),
    ({"etag": "e1", "properties": {"TTL": 300, "CNAMERecord": "x.contoso.com"}}, "CNAMERecord is not an object"),
    ({"etag": "e1", "properties": {"TTL": 300, "CNAMERecord": {"cname": 5}}}, "CNAMERecord.cname is not a string"),
    ({"etag": "e1", "properties": {"TTL": 300, "CNAMERecord": {"cname": "not a name!"}}},
     "the CNAME target 'not a name!' is not a DNS name"),
    ({"etag": "e1", "properties": {"TTL": 300, "metadata": ["a"]}}, "metadata is not an object of at most 100 entries"),
    ({"etag": "e1", "properties": {"TTL": 300, "metadata": {"a": 1}}}, "a metadata value is not a string"),
])
def test_malformed_record_set_answer_is_one_line(sb: AzureSandbox, body: Any, problem: str) -> None:
    """A record set read answered 200 in a shape that is no record set: one line naming what is wrong, nothing written."""
    sb.fault("GET", re.escape(RECORD_PATH), 200, body=body)
    with pytest.raises(DnsError) as caught:
        _run()
    message = str(caught.value)
    assert message.startswith("Azure answered without a valid CNAME record set while reading the CNAME record set of "
                              f"granitefalls.contoso.com ({problem}"), message
    assert message.endswith("; the answer is malformed") and "\n" not in message and len(message) < 400
    assert sb.writes() == []


def test_write_answered_without_a_record_set_says_changed(sb: AzureSandbox) -> None:
    """A PUT answered 200 with a body that is no record set: the write was applied, the failure says so in one line."""
    sb.fault("PUT", re.escape(RECORD_PATH), 200, body={"properties": {"TTL": 3600}})
    with pytest.raises(DnsError) as caught:
        _run()
    assert str(caught.value) == ("Azure answered without a valid CNAME record set while creating the CNAME record set "
                                 "granitefalls in zone contoso.com (no etag); the write may have been applied: run the "
                                 "task again")
    assert caught.value.details["changed"] is True


def test_412_on_update_and_delete_is_the_race_message(sb: AzureSandbox) -> None:
    """A write with the etag of an earlier read meets 412 Precondition Failed: the race message, nothing overwritten."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_core import RaceError, RecordSet

    sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(TARGET))
    with _provider() as provider:
        stale = provider.read("granitefalls.contoso.com", "CNAME")
        sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(TARGET, 600))  # someone else, meanwhile
        with pytest.raises(RaceError) as updating:
            provider.replace("granitefalls.contoso.com", stale, RecordSet("CNAME", (OTHER,), 300))
        with pytest.raises(RaceError) as deleting:
            provider.delete("granitefalls.contoso.com", stale)
        with pytest.raises(RaceError) as creating:
            provider.create("granitefalls.contoso.com", RecordSet("CNAME", (OTHER,), 300))
    assert str(updating.value) == ("Azure DNS refused updating granitefalls.contoso.com: it changed since it was read "
                                   "(412)")
    assert str(deleting.value) == "Azure DNS refused deleting granitefalls.contoso.com: it changed since it was read (412)"
    assert str(creating.value) == "Azure DNS refused creating granitefalls.contoso.com: it changed since it was read (412)"
    assert [(r.method, r.headers.get("if-match"), r.headers.get("if-none-match")) for r in sb.writes()] == [
        ("PUT", stale.etag, None), ("DELETE", stale.etag, None), ("PUT", None, "*")]
    assert _stored(sb)["properties"]["TTL"] == 600


def test_txt_record_set_body_and_read_back(sb: AzureSandbox) -> None:
    """TXT (the ACME DNS-01 path): TXTRecords, a long value split into 255-character strings and joined on read."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_core import RecordSet

    long_value = "x" * 300
    with _provider() as provider:
        created = provider.create("_acme-challenge.granitefalls.contoso.com",
                                  RecordSet("TXT", ("token-1", long_value), 60, metadata={"k": "v"}))
        again = provider.read("_acme-challenge.granitefalls.contoso.com", "TXT")
    put = sb.writes()[0]
    assert put.path.endswith("/dnsZones/contoso.com/TXT/_acme-challenge.granitefalls")
    assert put.body == {"properties": {"metadata": {"k": "v"}, "TTL": 60, "TXTRecords": [
        {"value": ["token-1"]}, {"value": ["x" * 255, "x" * 45]}]}}
    assert (created.values, created.ttl, created.metadata) == (("token-1", long_value), 60, {"k": "v"})
    assert again == created


DENIED = {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action."}}


@pytest.mark.parametrize("method, path, params, description, permission", [
    ("GET", LIST_PATH, {}, f"listing the DNS zones of subscription {AzureSandbox.subscription_id}",
     "Microsoft.Network/dnsZones/read"),
    ("GET", ZONE_PATH, {"zone": "contoso.com", "resource_group": "rg-dns"},
     f"reading the DNS zone contoso.com in resource group rg-dns of subscription {AzureSandbox.subscription_id}",
     "Microsoft.Network/dnsZones/read"),
    ("GET", RECORD_PATH, {}, "reading the CNAME record set granitefalls in zone contoso.com", "Microsoft.Network/dnsZones/read"),
    ("PUT", RECORD_PATH, {}, "creating the CNAME record set granitefalls in zone contoso.com",
     "Microsoft.Network/dnsZones/CNAME/write"),
    ("DELETE", RECORD_PATH, {"state": "absent"}, "deleting the CNAME record set granitefalls in zone contoso.com",
     "Microsoft.Network/dnsZones/CNAME/delete"),
])
def test_403_and_429_name_the_request_and_the_permission(sb: AzureSandbox, method: str, path: str, params: dict[str, Any],
                                                         description: str, permission: str) -> None:
    """Each request keeps its description and permission: a 403 names the permission and a role, a 429 that outlasts
    the retries says so; neither is a change."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._azure import RetrySettings

    if params.get("state") == "absent":
        sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME", _cname(TARGET))
        params = {**params, "target": TARGET}
    sb.fault(method, re.escape(path), 403, body=DENIED)
    with pytest.raises(Exception) as denied:
        _run(**params)
    assert str(denied.value) == (
        f"the service principal {sb.client_id} may not act in subscription {sb.subscription_id} while {description}: it "
        f"lacks the permission {permission}; grant a role that holds {permission}, such as DNS Zone Contributor on the "
        "zone ((AuthorizationFailed) The client does not have authorization to perform action.)")
    assert denied.value.details.get("changed") in (None, False)
    sb.fault(method, re.escape(path), 429, times=3, headers={"Retry-After": "0"})
    with pytest.raises(Exception) as throttled:
        run_cname({"service_name": "GraniteFalls.contoso.com", "target": TARGET, "wait": False, **params},
                  retry=RetrySettings(total_retries=2, sleep=lambda _seconds: None))
    assert str(throttled.value) == (f"Azure kept throttling (429 Too Many Requests) while {description} after 2 retries; "
                                    "try again later ((Injected429) injected fault 429)")
