# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""configmgr.cmg.cmg_cname through ansible-playbook: Azure DNS in the sandbox, RFC 2136 and propagation on BIND.

Each provider runs one playbook with every case as a task (``ignore_errors`` where a task must fail);
the tests assert on each task's result and on what reached the sandbox or BIND.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator

import dns.query
import dns.tsigkeyring
import dns.update
import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer, answered_target
from tests.support.ansible import PlaybookRun, play, run_playbook
from tests.support.azure_sandbox import AzureSandbox, Request
from tests.support.azure_sandbox import dns as sandbox_dns
from tests.support.bind import BindServer, running_named

pytestmark = pytest.mark.integration

TARGET = "granitefalls.westus.cloudapp.azure.com"
OTHER = "granitefalls.eastus.cloudapp.azure.com"
STAMP = {"managed-by": "configmgr.cmg.cmg_cname"}
CNAME = "configmgr.cmg.cmg_cname"


def _task(name: str, fail: bool = False, **args: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"name": name, CNAME: args}
    if fail:
        task["ignore_errors"] = True
    return task


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    """A named for contoso.test (RFC 2136 cases) and fabrikam.test (propagation cases)."""
    with running_named(("contoso.test", "fabrikam.test")) as server:
        yield server


def _bind_cname(bind: BindServer, zone: str, name: str, target: str) -> None:
    keyring = dns.tsigkeyring.from_text({bind.key_name: bind.key_secret})
    message = dns.update.UpdateMessage(zone, keyring=keyring, keyname=bind.key_name, keyalgorithm="hmac-sha256")
    message.replace(name, 300, "CNAME", target + ".")
    assert dns.query.tcp(message, bind.host, port=bind.port, timeout=3).rcode() == 0


def _answer(bind: BindServer, fqdn: str) -> str:
    return answered_target(NameServer(bind.host, bind.host, bind.port), fqdn, 2)


# ------------------------------------------------------------------------------------------------
# Azure DNS through the sandbox
# ------------------------------------------------------------------------------------------------

AZURE_TASKS = [
    _task("create", service_name="GraniteFalls.contoso.com", target=TARGET, metadata={"change": "CHG1"}),
    _task("rerun", service_name="granitefalls.CONTOSO.com.", target=TARGET, metadata={"change": "CHG1"}),
    _task("ttl", service_name="GraniteFalls.contoso.com", target=TARGET, ttl=300),
    _task("other target fails", True, service_name="GraniteFalls.contoso.com", target=OTHER, ttl=300),
    _task("other target replaced", service_name="GraniteFalls.contoso.com", target=OTHER, ttl=300, on_conflict="replace"),
    _task("a record", True, service_name="web.contoso.com", target=TARGET),
    _task("apex", True, service_name="contoso.com", target=TARGET),
    _task("no zone", True, service_name="GraniteFalls.fabrikam.com", target=TARGET),
    _task("race", service_name="race.contoso.com", target=TARGET, ttl=300),
    {**_task("check mode create", service_name="check.contoso.com", region="westus"), "check_mode": True},
    {**_task("diff", service_name="diff.contoso.com", target=TARGET), "diff": True},
    _task("absent not matching", True, service_name="GraniteFalls.contoso.com", target=TARGET, state="absent"),
    _task("absent matching", service_name="GraniteFalls.contoso.com", target=OTHER, state="absent"),
    _task("absent gone", service_name="GraniteFalls.contoso.com", target=OTHER, state="absent"),
]


@dataclass
class AzureOutcome:
    """What one Azure playbook run did: its results, the writes the sandbox received, the records left."""

    run: PlaybookRun
    writes: list[Request]
    state: dict[str, Any]
    race_etag: str
    subscription_id: str
    client_secret: str

    def record(self, name: str) -> dict[str, Any] | None:
        """The record set ``name``/CNAME of contoso.com after the run."""
        return self.state["zones"]["rg-dns/contoso.com"]["records"].get(f"{name}/CNAME")


@pytest.fixture(scope="module")
def azure(azure_sandbox_server: AzureSandbox) -> AzureOutcome:
    """One playbook with every Azure DNS case, run against a freshly seeded sandbox."""
    sb = azure_sandbox_server
    sb.reset()
    sb.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns", "records": [
        {"name": "web", "type": "A", "properties": {"TTL": 300, "ARecords": [{"ipv4Address": "10.1.2.3"}]}},
        {"name": "race", "type": "CNAME", "properties": {"TTL": 3600, "CNAMERecord": {"cname": TARGET}}},
    ]}]}})
    race = sandbox_dns.get_record(sb, "contoso.com", "race")
    sandbox_dns.inject_race(sb, "contoso.com", "race", {"TTL": 600, "CNAMERecord": {"cname": TARGET},
                                                        "metadata": {"owner": "network-team"}})
    tasks = [{**task, CNAME: {**task[CNAME], "wait": False}} for task in AZURE_TASKS]
    run = run_playbook(play(tasks, module_defaults={"group/configmgr.cmg.azure": {"resource_group": "rg-dns"}}),
                       env=sb.env())
    outcome = AzureOutcome(run, sb.writes(), copy.deepcopy(sb.state["dns"]), race["etag"], sb.subscription_id,
                           sb.client_secret)
    sb.reset()
    return outcome


def test_azure_create_rerun_and_writes(azure: AzureOutcome) -> None:
    run = azure.run
    created = run.result("create")
    assert created["changed"] is True
    assert created["record"]["target"] == TARGET and created["record"]["zone"] == "contoso.com"
    assert created["auth_source_used"] == "env"
    assert run.result("rerun")["changed"] is False
    prefix = f"/subscriptions/{azure.subscription_id}/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/contoso.com/CNAME/"
    writes = [(r.method, r.path.replace(prefix, ""), r.headers.get("if-none-match"), r.headers.get("if-match") is not None)
              for r in azure.writes]
    # create, (rerun: nothing), ttl, replace, race (412 then the reconciled PUT), diff, absent matching
    assert writes == [
        ("PUT", "granitefalls", "*", False),
        ("PUT", "granitefalls", None, True),
        ("PUT", "granitefalls", None, True),
        ("PUT", "race", None, True),
        ("PUT", "race", None, True),
        ("PUT", "diff", "*", False),
        ("DELETE", "granitefalls", None, True),
    ]
    assert azure.client_secret not in run.stdout + run.stderr


def test_azure_ttl_and_target_change(azure: AzureOutcome) -> None:
    run = azure.run
    assert (run.result("ttl")["changed"], run.result("ttl")["record"]["ttl"]) == (True, 300)
    failed = run.result("other target fails")
    assert failed["failed"] is True
    assert failed["msg"] == (f"granitefalls.contoso.com already is a CNAME for {TARGET}, not {OTHER}; nothing changed "
                             "(set on_conflict=replace to point it at the new target)")
    assert failed["current_target"] == TARGET
    replaced = run.result("other target replaced")
    assert (replaced["changed"], replaced["record"]["target"]) == (True, OTHER)


def test_azure_refusals(azure: AzureOutcome) -> None:
    run = azure.run
    assert run.result("a record")["msg"] == (
        "web.contoso.com already has A record(s): a CNAME cannot coexist with other records and this module never "
        "deletes them; remove them or choose another name")
    assert run.result("a record")["other_records"] == ["A"]
    assert run.result("apex")["msg"].startswith("contoso.com is the apex of zone contoso.com: a CNAME cannot stand at a zone apex")
    assert run.result("no zone")["msg"] == (
        f"no Azure DNS zone in resource group rg-dns of subscription {azure.subscription_id} contains "
        "granitefalls.fabrikam.com; create the zone, or give zone and resource_group")
    assert all(run.status(task) == "failed" for task in ("a record", "apex", "no zone"))


def test_azure_412_race_reconciled(azure: AzureOutcome) -> None:
    result = azure.run.result("race")
    assert (result["changed"], result["record"]["ttl"]) == (True, 300)
    stored = azure.record("race")
    assert stored["properties"]["TTL"] == 300
    assert stored["properties"]["metadata"] == {"owner": "network-team", **STAMP}
    race_puts = [r for r in azure.writes if r.path.endswith("/CNAME/race")]
    assert race_puts[0].headers["if-match"] == azure.race_etag
    assert race_puts[1].headers["if-match"] not in (azure.race_etag, stored["etag"])


def test_azure_check_mode_and_diff(azure: AzureOutcome) -> None:
    run = azure.run
    checked = run.result("check mode create")
    assert checked["changed"] is True
    assert checked["record"]["target"] == "check.westus.cloudapp.azure.com"
    assert azure.record("check") is None
    assert run.result("diff")["diff"] == {
        "before": {}, "after": {"fqdn": "diff.contoso.com", "type": "CNAME", "target": TARGET, "ttl": 3600,
                                "metadata": STAMP}}
    assert f'+    "target": "{TARGET}",' in run.stdout


def test_azure_absent(azure: AzureOutcome) -> None:
    run = azure.run
    assert run.result("absent not matching")["msg"] == (
        f"granitefalls.contoso.com is a CNAME for {OTHER}, not the wanted target {TARGET}: not deleted "
        "(set on_conflict=replace to delete it anyway)")
    assert run.result("absent matching")["changed"] is True
    assert run.result("absent gone")["changed"] is False
    assert azure.record("granitefalls") is None


# ------------------------------------------------------------------------------------------------
# RFC 2136 and propagation on a real BIND 9
# ------------------------------------------------------------------------------------------------

def _rfc_tasks(bind: BindServer, sb: AzureSandbox) -> list[dict[str, Any]]:
    key = {"provider": "rfc2136", "server": bind.host, "port": bind.port, "key_name": bind.key_name,
           "key_secret": "{{ tsig_secret }}", "wait_timeout": 10}
    return [
        _task("create", service_name="GraniteFalls.contoso.test", target=TARGET, **key),
        _task("rerun", service_name="GraniteFalls.contoso.test", target=TARGET, **key),
        _task("conflict", True, service_name="GraniteFalls.contoso.test", target=OTHER, **key),
        _task("replace", service_name="GraniteFalls.contoso.test", target=OTHER, on_conflict="replace", **key),
        _task("absent", service_name="GraniteFalls.contoso.test", target=OTHER, state="absent", **key),
        _task("wrong key", True, service_name="key.contoso.test", target=TARGET,
              **{**key, "key_secret": "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="}),
        _task("wait to explicit servers", service_name="fast.fabrikam.test", target=TARGET,
              nameservers=[bind.address], **key),
        {"name": "propagation timeout", "ignore_errors": True, "environment": sb.env(),
         CNAME: {"service_name": "slow.fabrikam.test", "target": TARGET, "nameservers": [bind.address], "wait_timeout": 1}},
    ]


@pytest.fixture(scope="module")
def rfc(bind: BindServer, azure_sandbox_server: AzureSandbox) -> PlaybookRun:
    """One playbook with the RFC 2136 cases and the propagation cases."""
    sb = azure_sandbox_server
    sb.reset()
    sandbox_dns.add_zone(sb, "fabrikam.test")
    _bind_cname(bind, "fabrikam.test", "slow.fabrikam.test.", OTHER)
    run = run_playbook(play(_rfc_tasks(bind, sb)), extra_vars={"tsig_secret": bind.key_secret})
    sb.reset()
    return run


def test_rfc2136_create_rerun_replace_absent(rfc: PlaybookRun, bind: BindServer) -> None:
    created = rfc.result("create")
    assert created["changed"] is True
    assert created["record"] == {"fqdn": "granitefalls.contoso.test", "target": TARGET, "ttl": 3600, "etag": None,
                                 "zone": "contoso.test", "provider": "rfc2136"}
    assert created["propagation"] == [{"server": f"ns1.contoso.test ({bind.address})", "answer": TARGET, "ok": True}]
    assert rfc.result("rerun")["changed"] is False
    assert rfc.result("conflict")["msg"] == (
        f"granitefalls.contoso.test already is a CNAME for {TARGET}, not {OTHER}; nothing changed "
        "(set on_conflict=replace to point it at the new target)")
    replaced = rfc.result("replace")
    assert (replaced["changed"], replaced["propagation"][0]["answer"]) == (True, OTHER)
    absent = rfc.result("absent")
    assert (absent["changed"], absent["propagation"][0]["answer"]) == (True, "NXDOMAIN")
    assert _answer(bind, "granitefalls.contoso.test") == "NXDOMAIN"
    assert bind.key_secret not in rfc.stdout + rfc.stderr


def test_rfc2136_wrong_key(rfc: PlaybookRun, bind: BindServer) -> None:
    result = rfc.result("wrong key")
    assert result["msg"] == (f"the DNS server {bind.address} rejected TSIG key 'cmg-test-key' for zone contoso.test "
                             "(The peer didn't like the signature we sent): check key_name, key_secret and key_algorithm")
    assert _answer(bind, "key.contoso.test") == "NXDOMAIN"


def test_propagation_succeeds_right_after_change(rfc: PlaybookRun, bind: BindServer) -> None:
    result = rfc.result("wait to explicit servers")
    assert result["propagation"] == [{"server": bind.address, "answer": TARGET, "ok": True}]


def test_propagation_times_out_with_what_servers_answer(rfc: PlaybookRun, bind: BindServer) -> None:
    result = rfc.result("propagation timeout")
    assert rfc.status("propagation timeout") == "failed"
    assert result["msg"] == (f"slow.fabrikam.test did not propagate within 1s (wanted CNAME {TARGET}): "
                             f"{bind.address} answers {OTHER}")
    assert result["propagation"] == [{"server": bind.address, "answer": OTHER, "ok": False}]
    assert result["changed"] is True
    assert result["record"]["provider"] == "azure_dns"
