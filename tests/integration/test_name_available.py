"""configmgr.cmg.cmg_name_available through ansible-playbook, against the Azure sandbox and a real BIND."""

from __future__ import annotations

import dns.query
import dns.tsigkeyring
import dns.update
import pytest

from tests.support.ansible import play, run_playbook, run_task
from tests.support.bind import running_named

pytestmark = pytest.mark.integration

MODULE = "configmgr.cmg.cmg_name_available"
SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"
SEED = {"names": {
    "taken": {"dns_label": [{"label": "takenlabel", "location": "westus"}], "key_vault": ["takenvault"],
              "storage_account": ["takenstore"]},
    "public_ips": [{"name": "ourcmg-pip", "resource_group": "rg-cmg", "location": "westus", "label": "ourcmg"}],
    "vaults": [{"name": "ourcmg", "resource_group": "rg-cmg", "location": "westus"}],
    "storage_accounts": [{"name": "ourcmg", "resource_group": "rg-cmg", "location": "westus"}],
    "deleted_vaults": [{"name": "gonecmg", "resource_group": "rg-old", "location": "westus"}],
}}


def _task(name, **args):
    return {"name": name, MODULE: dict({"region": "westus"}, **args)}


def _statuses(result):
    return {check: entry["status"] for check, entry in result["resources"].items()}


def test_arm_checks_through_ansible(azure_sandbox):
    azure_sandbox.seed(SEED)
    run = run_playbook(play([
        _task("free", service_name="FreeCmg.contoso.com", content_enabled=True),
        _task("label taken", prefix="takenlabel"),
        _task("vault taken", prefix="takenvault"),
        _task("storage taken", prefix="takenstore", checks=["storage_account"]),
        _task("owned", service_name="OurCmg.contoso.com", content_enabled=True),
        _task("soft deleted", prefix="gonecmg"),
        _task("invalid", service_name="x.contoso.com", content_enabled=True),
    ]), env=azure_sandbox.env(), check=True)
    assert run.rc == 0, run.stdout + run.stderr
    free = run.result("free")
    assert (free["available"], free["changed"], free["auth_source_used"], free["method"]) == (True, False, "env", "arm")
    assert _statuses(free) == {"dns_label": "available", "key_vault": "available", "storage_account": "available"}
    assert free["names"]["deployment_name"] == "freecmg.westus.cloudapp.azure.com"
    assert free["msg"] == "every CMG name is available or already this subscription's"
    assert "results" not in free
    label = run.result("label taken")
    assert (label["available"], _statuses(label)) == (False, {"dns_label": "taken", "key_vault": "available"})
    assert label["resources"]["dns_label"]["message"] == (
        "takenlabel.westus.cloudapp.azure.com is in use by another subscription or tenant: choose another prefix or region")
    assert _statuses(run.result("vault taken")) == {"dns_label": "available", "key_vault": "taken"}
    assert run.result("vault taken")["resources"]["key_vault"]["reason"] == "AlreadyExists"
    assert _statuses(run.result("storage taken")) == {"storage_account": "taken"}
    owned = run.result("owned")
    assert owned["available"] is True
    assert {c: (e["status"], e["resource_id"]) for c, e in owned["resources"].items()} == {
        "dns_label": ("owned", f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Network/publicIPAddresses/ourcmg-pip"),
        "key_vault": ("owned", f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.KeyVault/vaults/ourcmg"),
        "storage_account": ("owned", f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Storage/storageAccounts/ourcmg"),
    }
    gone = run.result("soft deleted")
    assert (gone["available"], gone["resources"]["key_vault"]) == (False, {
        "name": "gonecmg", "status": "soft_deleted", "reason": "AlreadyExists",
        "resource_id": f"{SUB}/providers/Microsoft.KeyVault/locations/westus/deletedVaults/gonecmg",
        "message": "the Key Vault name 'gonecmg' is held by a soft-deleted vault of this subscription (deleted 2026-11-01 "
                   "10:00:00+00:00): purge it (az keyvault purge --name gonecmg --location westus) or recover it "
                   "(az keyvault recover --name gonecmg --location westus)"})
    invalid = run.result("invalid")
    assert (invalid["available"], _statuses(invalid)) == (
        False, {"dns_label": "invalid", "key_vault": "invalid", "storage_account": "invalid"})
    assert invalid["resources"]["key_vault"]["reason"] == "AccountNameInvalid"
    sent = [r for r in azure_sandbox.arm_requests() if "checkNameAvailability" in r.path or "checkDnsName" in r.path]
    assert "x" not in [r.query.get("domainNameLabel") or (r.body or {}).get("name") for r in sent]
    assert azure_sandbox.writes() == []
    assert azure_sandbox.client_secret not in run.stdout + run.stderr


def test_throttling_then_success_and_bad_secret(azure_sandbox):
    azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 429, times=1, headers={"Retry-After": "2"})
    run = run_playbook(play([
        _task("throttled", prefix="retrycmg"),
        dict(_task("bad secret", prefix="retrycmg"), environment={"AZURE_SECRET": "not-the-secret"}, ignore_errors=True),
    ]), env=azure_sandbox.env())
    throttled = run.result("throttled")
    assert (throttled["available"], _statuses(throttled)) == (True, {"dns_label": "available", "key_vault": "available"})
    vault_checks = [r for r in azure_sandbox.arm_requests() if r.path.endswith("Microsoft.KeyVault/checkNameAvailability")]
    assert len(vault_checks) == 2
    assert vault_checks[1].time - vault_checks[0].time >= 2.0
    bad = run.result("bad secret")
    assert run.status("bad secret") == "failed"
    assert bad["msg"] == (
        f"Azure refused the credentials of the service principal {azure_sandbox.client_id} (env) at {azure_sandbox.url}/: "
        "Authentication failed: AADSTS7000215: Invalid client secret provided.; check client_id, secret and tenant")
    assert "not-the-secret" not in run.stdout + run.stderr


def test_us_government_cloud_from_metadata(azure_sandbox):
    azure_sandbox.cloud_name = "AzureUSGovernment"
    run = run_task(MODULE, {"service_name": "GraniteFalls.contoso.com", "region": "usgovvirginia", "content_enabled": True},
                   env=azure_sandbox.env())
    assert run.rc == 0, run.stdout
    assert run.result["names"]["cloud_environment"] == "AzureUSGovernment"
    assert run.result["names"]["deployment_name"] == "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net"
    assert run.result["resources"]["dns_label"]["message"] == "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net is free"
    assert [r.path for r in azure_sandbox.arm_requests() if "Network" in r.path] == \
        [f"{SUB}/providers/Microsoft.Network/locations/usgovvirginia/CheckDnsNameAvailability"]


def test_metadata_url_cloud_in_2015_form(azure_sandbox):
    azure_sandbox.metadata_format = "2015"
    env = dict(azure_sandbox.env())
    cloud = env.pop("AZURE_CLOUD_ENVIRONMENT")
    run = run_task(MODULE, {"prefix": "stackcmg", "region": "westus", "cloud_environment": cloud}, env=env)
    assert run.rc == 0, run.stdout
    assert (run.result["available"], run.result["names"]["cloud_environment"]) == (True, "AzureCloud")
    metadata = [r for r in azure_sandbox.requests if r.path == "/metadata/endpoints"]
    assert [r.query for r in metadata] == [{"api-version": "2015-01-01"}]


def _add(server, zone, name, rdtype, value):
    keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
    update = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm=server.key_algorithm)
    update.add(name, 300, rdtype, value)
    response = dns.query.tcp(update, server.host, port=server.port, timeout=5)
    assert response.rcode() == 0


def test_dns_method_against_bind():
    zones = ("cloudapp.azure.com", "vault.azure.net", "blob.core.windows.net", "cloudapp.usgovcloudapi.net")
    with running_named(zones) as server:
        _add(server, "cloudapp.azure.com", "usedcmg.westus", "A", "203.0.113.7")
        _add(server, "cloudapp.usgovcloudapi.net", "govcmg.usgovvirginia", "A", "203.0.113.9")
        _add(server, "vault.azure.net", "usedcmg", "A", "203.0.113.8")
        _add(server, "blob.core.windows.net", "usedcmg", "CNAME", "blob.elsewhere.example.")
        run = run_playbook(play([
            _task("free", prefix="FreeCmg", content_enabled=True, method="dns", nameservers=[server.address]),
            _task("used", prefix="UsedCmg", content_enabled=True, method="dns", nameservers=[server.address]),
            dict(_task("gov", prefix="GovCmg", region="usgovvirginia", checks=["dns_label"], method="dns",
                       nameservers=[server.address]), environment={"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}),
        ]))
    assert run.rc == 0, run.stdout
    free = run.result("free")
    assert (free["available"], free["heuristic"], free["method"], free["auth_source_used"]) == (True, True, "dns", None)
    assert free["note"].startswith("method=dns is a heuristic: ")
    assert free["resources"]["key_vault"] == {"name": "freecmg", "status": "available", "reason": "NXDOMAIN",
                                              "message": "freecmg.vault.azure.net does not resolve (heuristic: probably free)",
                                              "resource_id": None}
    used = run.result("used")
    assert (used["available"], _statuses(used)) == (False, {"dns_label": "taken", "key_vault": "taken", "storage_account": "taken"})
    assert used["resources"]["storage_account"]["message"] == (
        "usedcmg.blob.core.windows.net resolves, so the storage account name 'usedcmg' is in use "
        "(heuristic: method=arm tells whether it is yours)")
    gov = run.result("gov")
    assert (gov["names"]["cloud_environment"], gov["resources"]["dns_label"]["status"]) == ("AzureUSGovernment", "taken")
