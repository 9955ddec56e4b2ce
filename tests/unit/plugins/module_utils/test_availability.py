"""Unit tests of the name availability logic, against the local Azure sandbox (real SDK over HTTPS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils import _availability
from ansible_collections.configmgr.cmg.plugins.module_utils._availability import (
    HEURISTIC_NOTE, STATUSES, NameStatus, dns_names, name_availability, parse_nameserver, plan,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._azure import naming_cloud
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError, DnsError, NamingError
from ansible_collections.configmgr.cmg.plugins.module_utils._naming import cloud_names

SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"


@pytest.fixture
def env(azure_sandbox, monkeypatch):
    """The sandbox environment (REQUESTS_CA_BUNDLE also set in this process for the SDK)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_sandbox.ca_file)
    return azure_sandbox.env()


def _statuses(result):
    return {check: entry["status"] for check, entry in result["resources"].items()}


def test_all_free_with_content(azure_sandbox, env):
    result = name_availability({"service_name": "GraniteFalls.contoso.com", "region": "West US", "content_enabled": True}, env)
    assert result["available"] is True and result["changed"] is False
    assert result["resources"]["dns_label"] == {"name": "granitefalls", "status": "available", "reason": None,
                                                "message": "granitefalls.westus.cloudapp.azure.com is free", "resource_id": None}
    assert _statuses(result) == {"dns_label": "available", "key_vault": "available", "storage_account": "available"}
    assert (result["auth_source_used"], result["method"], result["names"]["service_name"]) == ("env", "arm", "GraniteFalls.contoso.com")
    sent = sorted((r.method, r.path, r.query) for r in azure_sandbox.arm_requests())
    assert sent == [
        ("GET", f"{SUB}/providers/Microsoft.Network/locations/westus/CheckDnsNameAvailability",
         {"domainNameLabel": "granitefalls", "api-version": "2025-07-01"}),
        ("POST", f"{SUB}/providers/Microsoft.KeyVault/checkNameAvailability", {"api-version": "2025-05-01"}),
        ("POST", f"{SUB}/providers/Microsoft.Storage/checkNameAvailability", {"api-version": "2025-08-01"}),
    ]
    assert {r.headers["authorization"].split()[0] for r in azure_sandbox.arm_requests()} == {"Bearer"}
    bodies = sorted(str(r.body) for r in azure_sandbox.arm_requests() if r.method == "POST")
    assert bodies == ["{'name': 'granitefalls', 'type': 'Microsoft.KeyVault/vaults'}",
                      "{'name': 'granitefalls', 'type': 'Microsoft.Storage/storageAccounts'}"]
    assert azure_sandbox.writes() == []


def test_default_checks_skip_storage_without_content(env):
    result = name_availability({"prefix": "GraniteFalls", "region": "westus"}, env)
    assert list(result["resources"]) == ["dns_label", "key_vault"]
    assert result["names"]["service_name"] is None


def test_taken_owned_and_soft_deleted(azure_sandbox, env):
    azure_sandbox.seed({"names": {
        "taken": {"dns_label": [{"label": "othercmg", "location": "westus"}], "storage_account": ["othercmg"]},
        "public_ips": [{"name": "ourcmg-pip", "resource_group": "rg-cmg", "location": "westus", "label": "ourcmg"}],
        "vaults": [{"name": "OurCmg", "resource_group": "rg-cmg", "location": "westus"}],
        "storage_accounts": [{"name": "ourcmg", "resource_group": "rg-cmg", "location": "westus"}],
        "deleted_vaults": [{"name": "othercmg", "location": "eastus", "purge_protection": True}],
    }})
    owned = name_availability({"prefix": "ourcmg", "region": "westus", "content_enabled": True}, env)
    assert owned["available"] is True
    assert {c: (e["status"], e["resource_id"]) for c, e in owned["resources"].items()} == {
        "dns_label": ("owned", f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Network/publicIPAddresses/ourcmg-pip"),
        "key_vault": ("owned", f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.KeyVault/vaults/OurCmg"),
        "storage_account": ("owned", f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Storage/storageAccounts/ourcmg"),
    }
    other = name_availability({"prefix": "othercmg", "region": "westus", "content_enabled": True}, env)
    assert other["available"] is False
    assert _statuses(other) == {"dns_label": "taken", "key_vault": "soft_deleted", "storage_account": "taken"}
    assert other["resources"]["key_vault"]["message"] == (
        "the Key Vault name 'othercmg' is held by a soft-deleted vault of this subscription (deleted 2026-11-01 10:00:00+00:00): "
        "purge protection is on, so recover it (az keyvault recover --name othercmg --location eastus) or wait until it is "
        "purged on 2027-01-30 10:00:00+00:00")
    assert other["resources"]["key_vault"]["resource_id"] == \
        f"{SUB}/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/othercmg"
    assert other["msg"] == ("CMG names not available: dns_label 'othercmg' is taken; key_vault 'othercmg' is soft-deleted; "
                            "storage_account 'othercmg' is taken")
    # the same label in another region is free
    east = name_availability({"prefix": "ourcmg", "region": "eastus", "checks": ["dns_label"]}, env)
    assert _statuses(east) == {"dns_label": "available"}


def test_invalid_names_are_not_sent_to_azure(azure_sandbox, env):
    result = name_availability({"prefix": "Granite-Falls", "region": "westus", "content_enabled": True}, env)
    assert _statuses(result) == {"dns_label": "available", "key_vault": "available", "storage_account": "invalid"}
    assert result["resources"]["storage_account"]["name"] == "granite-falls"
    assert sorted(r.path.split("/providers/")[1] for r in azure_sandbox.arm_requests()) == \
        ["Microsoft.KeyVault/checkNameAvailability", "Microsoft.Network/locations/westus/CheckDnsNameAvailability"]
    azure_sandbox.clear_requests()
    none_valid = name_availability({"prefix": "a--" + "b" * 30, "region": "westus", "checks": ["key_vault", "storage_account"]}, env)
    assert _statuses(none_valid) == {"key_vault": "invalid", "storage_account": "invalid"}
    assert azure_sandbox.requests[0].path == "/metadata/endpoints" and azure_sandbox.arm_requests() == []
    assert azure_sandbox.token_requests() == []


def test_us_government_names(azure_sandbox, env):
    azure_sandbox.cloud_name = "AzureUSGovernment"
    result = name_availability({"service_name": "GraniteFalls.contoso.com", "region": "usgovvirginia"}, env)
    assert result["names"]["deployment_name"] == "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net"
    assert result["names"]["cloud_environment"] == "AzureUSGovernment"
    assert result["resources"]["dns_label"]["message"] == "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net is free"


def test_metadata_2015_form_cloud(azure_sandbox, env):
    azure_sandbox.metadata_format = "2015"
    result = name_availability({"prefix": "GraniteFalls", "region": "westus"}, env)
    assert (result["available"], result["names"]["cloud_environment"]) == (True, "AzureCloud")


def test_plan_errors():
    with pytest.raises(NamingError) as error:
        plan("GraniteFalls.contoso.com", None, False, None, "AzureCloud")
    assert str(error.value) == "a region is required for the dns_label check, for example region=westus"
    with pytest.raises(NamingError) as error:
        plan(None, "westus", False, None, "AzureCloud")
    assert str(error.value) == "give the CMG service_name (the certificate name) or its prefix"
    names, checks = plan("GraniteFalls.contoso.com", None, False, ["key_vault", "key_vault"], "AzureCloud")
    assert checks == ["key_vault"] and names["key_vault_name"] == "granitefalls"


@pytest.mark.parametrize("prefix", ["a.b", "granite.falls", "GraniteFalls.", " x.y "])
def test_a_prefix_with_a_dot_is_refused_not_cut(prefix):
    with pytest.raises(NamingError) as error:
        plan(None, "westus", False, None, "AzureCloud", prefix)
    assert str(error.value).startswith(f"the prefix {prefix!r} is not a valid DNS label")


def test_an_invalid_region_fails_before_the_cloud_metadata_is_fetched(azure_sandbox, env):
    with pytest.raises(NamingError) as error:
        name_availability({"service_name": "GraniteFalls.contoso.com", "region": "atlantis", "method": "arm"}, env)
    assert str(error.value).startswith("unknown AzureCloud region 'atlantis'")
    assert azure_sandbox.requests == [], "nothing was fetched: not the metadata, not a token"


def test_metadata_that_names_another_cloud_than_the_region_still_fails(azure_sandbox, env):
    azure_sandbox.cloud_name = "AzureUSGovernment"
    with pytest.raises(NamingError) as error:
        name_availability({"service_name": "GraniteFalls.contoso.com", "region": "westus", "method": "arm"}, env)
    assert str(error.value) == ("'westus' is a region of AzureCloud, not of AzureUSGovernment: set the cloud environment "
                                "to AzureCloud")
    assert azure_sandbox.arm_requests() == []


def test_dns_names_per_cloud():
    names = plan("GraniteFalls.contoso.com", "usgovvirginia", True, None, "AzureUSGovernment")[0]
    assert dns_names(names, cloud_names("AzureUSGovernment")) == {
        "dns_label": "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net",
        "key_vault": "granitefalls.vault.usgovcloudapi.net",
        "storage_account": "granitefalls.blob.core.usgovcloudapi.net",
    }


@pytest.mark.parametrize("value, expected", [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("[::1]:54", ("::1", 54)),
    ("::1", ("::1", 53)), ("localhost:53", ("127.0.0.1", 53)),
])
def test_parse_nameserver(value, expected):
    assert parse_nameserver(value) == expected


@pytest.mark.parametrize("value", ["127.0.0.1:x", "127.0.0.1:70000", ":53"])
def test_parse_nameserver_errors(value):
    with pytest.raises(DnsError):
        parse_nameserver(value)


@pytest.mark.parametrize("value, message", [
    ("[::1]:bad", "the name server '[::1]:bad' has an invalid port: use 'host' or 'host:port' with a port from 1 to 65535"),
    ("no-such-host.invalid:53", "cannot resolve the name server 'no-such-host.invalid:53' to an address: use host or host:port"),
])
def test_parse_nameserver_agrees_with_the_nameservers_option(value, message):
    """One parser for name servers (_dns_resolve.split_host_port): a bad bracketed port is not port 53."""
    with pytest.raises(DnsError) as caught:
        parse_nameserver(value)
    assert str(caught.value) == message


#: Names that are all invalid for the Key Vault and storage checks: the DNS method then resolves nothing.
_UNPROBED = {"prefix": "a--" + "b" * 30, "method": "dns", "checks": ["key_vault", "storage_account"]}


@pytest.mark.parametrize("option, environ, cloud", [
    (None, {"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}, "AzureUSGovernment"),
    ("AzureCloud", {"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}, "AzureCloud"),
    (None, {"AZURE_CLOUD_ENVIRONMENT": "https://management.local.azurestack.external"}, "AzureCloud"),
    ("https://arm.local", {"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}, "AzureCloud"),
    (None, {}, "AzureCloud"),
])
def test_dns_method_cloud_from_option_then_environment(option, environ, cloud):
    """method=dns takes the cloud from cloud_environment, then AZURE_CLOUD_ENVIRONMENT; a URL names like AzureCloud."""
    region = {"AzureCloud": "westus", "AzureUSGovernment": "usgovvirginia"}[cloud]
    result = name_availability(dict(_UNPROBED, region=region, cloud_environment=option), environ)
    assert (result["names"]["cloud_environment"], _statuses(result)) == (cloud, {"key_vault": "invalid", "storage_account": "invalid"})
    assert result["names"]["deployment_name"] == f"a--{'b' * 30}.{region}.{cloud_names(cloud).cloudapp_domain}"
    assert "heuristic" in HEURISTIC_NOTE


def test_naming_cloud_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("AZURE_CLOUD_ENVIRONMENT", " AzureUSGovernment ")
    assert (naming_cloud(None), naming_cloud(" "), naming_cloud("AzureCloud")) == ("AzureUSGovernment", "AzureUSGovernment", "AzureCloud")
    monkeypatch.delenv("AZURE_CLOUD_ENVIRONMENT")
    assert naming_cloud(None) == "AzureCloud"
    assert naming_cloud("https://stack.example.test/", {}, region="USGov Virginia") == "AzureUSGovernment"
    assert naming_cloud("https://stack.example.test/", {}, region="westus") == "AzureCloud"


def test_three_checks_run_concurrently(azure_sandbox, env):
    """The sandbox holds each name check until all three are in flight: checks sent one after another would
    time out the barrier (a 500 for each, retries included) and fail. The latency figure is in
    tests/benchmarks/name_checks.py."""
    held = azure_sandbox.hold("*", r".*/(checkDnsNameAvailability|checkNameAvailability)", parties=3, timeout=5)
    result = name_availability({"prefix": "benchcmg", "region": "westus", "content_enabled": True}, env)
    assert _statuses(result) == {"dns_label": "available", "key_vault": "available", "storage_account": "available"}
    assert (held.arrived, held.released, held.broken) == (3, 3, False)
    assert len(azure_sandbox.arm_requests()) == 3


#: Run name_availability in a fresh interpreter and tell which azure-mgmt SDK packages it imported.
_PROBE = """
import json, sys
from ansible_collections.configmgr.cmg.plugins.module_utils._availability import name_availability
result = name_availability(json.loads(sys.argv[1]))
sdk = [m for m in ("azure.mgmt.network", "azure.mgmt.storage", "azure.mgmt.keyvault") if m in sys.modules]
print(json.dumps({"statuses": {c: e["status"] for c, e in result["resources"].items()}, "sdk": sdk,
                  "pipeline": "azure.mgmt.core" in sys.modules}))
"""


def _fresh_run(azure_sandbox, options):
    collections = Path(os.path.abspath(_availability.__file__)).parents[5]  # holds ansible_collections/configmgr/cmg
    env = dict(os.environ, **azure_sandbox.env(), PYTHONPATH=str(collections))
    run = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(options)], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_all_free_imports_no_sdk_package(azure_sandbox):
    """Three free names go through the plain ARM pipeline: azure.mgmt.network, storage and keyvault stay unimported."""
    probe = _fresh_run(azure_sandbox, {"prefix": "freecmg", "region": "westus", "content_enabled": True})
    assert probe == {"statuses": {"dns_label": "available", "key_vault": "available", "storage_account": "available"},
                     "sdk": [], "pipeline": True}
    assert len(azure_sandbox.arm_requests()) == 3 and len(azure_sandbox.token_requests()) == 1


def test_a_taken_name_imports_only_its_sdk_package(azure_sandbox):
    """The probe above can fail: a taken storage name builds the storage client (to list our accounts), and only it."""
    azure_sandbox.seed({"names": {"taken": {"storage_account": ["takencmg"]}}})
    probe = _fresh_run(azure_sandbox, {"prefix": "takencmg", "region": "westus", "content_enabled": True})
    assert probe == {"statuses": {"dns_label": "available", "key_vault": "available", "storage_account": "taken"},
                     "sdk": ["azure.mgmt.storage"], "pipeline": True}
    assert len(azure_sandbox.token_requests()) == 1


def test_statuses_are_the_known_ones():
    assert [NameStatus("x", status).status for status in STATUSES] == list(STATUSES)
    with pytest.raises(ValueError, match="unknown name status 'free'"):
        NameStatus("x", "free")


def test_an_unregistered_provider_is_reported_never_registered_by_a_read(azure_sandbox, env):
    """azure-mgmt-core's default pipeline registers a provider by itself on a 409 MissingSubscriptionRegistration; a
    name check is a read (check mode included) and must never change the subscription: one line with the fix instead."""
    azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 409, times=5, body={"error": {
        "code": "MissingSubscriptionRegistration",
        "message": "The subscription is not registered to use namespace 'Microsoft.KeyVault'."}})
    with pytest.raises(CmgError) as caught:
        name_availability({"prefix": "GraniteFalls", "region": "westus"}, env)
    message = str(caught.value)
    assert "\n" not in message
    assert "Microsoft.KeyVault" in message and "az provider register --namespace Microsoft.KeyVault" in message
    assert [r.path for r in azure_sandbox.arm_requests() if r.method == "POST" and r.path.endswith("/register")] == []
    assert azure_sandbox.writes() == []


def test_owned_only_in_the_cmg_resource_group(azure_sandbox, env):
    azure_sandbox.seed({"names": {
        "public_ips": [{"name": "ourcmg-pip", "resource_group": "rg-cmg", "location": "westus", "label": "ourcmg"}],
        "vaults": [{"name": "ourcmg", "resource_group": "rg-other", "location": "westus"}],
        "storage_accounts": [{"name": "ourcmg", "resource_group": "RG-CMG", "location": "westus"}],
    }})
    options = {"prefix": "ourcmg", "region": "westus", "content_enabled": True}
    scoped = name_availability(dict(options, resource_group="rg-cmg"), env)
    assert (scoped["available"], _statuses(scoped)) == (
        False, {"dns_label": "owned", "key_vault": "taken", "storage_account": "owned"})
    vault_id = f"{SUB}/resourceGroups/rg-other/providers/Microsoft.KeyVault/vaults/ourcmg"
    assert scoped["resources"]["key_vault"] == {
        "name": "ourcmg", "status": "taken", "reason": "AlreadyExists", "resource_id": vault_id,
        "message": f"the Key Vault name 'ourcmg' is held by this subscription's resource {vault_id}, outside the CMG's "
                   "resource group rg-cmg: choose another prefix, or set resource_group to rg-other if that is this "
                   "CMG's group"}
    assert scoped["resources"]["storage_account"]["message"] == (
        "the storage account ourcmg belongs to this subscription, in the CMG's resource group RG-CMG")
    assert (scoped["resource_group"], scoped["ownership_scope"]) == ("rg-cmg", "resource group rg-cmg")
    assert scoped["msg"] == "CMG names not available: key_vault 'ourcmg' is taken"
    unscoped = name_availability(options, env)
    assert (unscoped["available"], set(_statuses(unscoped).values())) == (True, {"owned"})
    assert unscoped["resources"]["key_vault"]["message"] == "the Key Vault ourcmg belongs to this subscription"
    assert unscoped["resource_group"] is None
    assert unscoped["ownership_scope"].startswith("subscription: no resource_group given, so a resource of the name in "
                                                  "any resource group of this subscription counts as owned")
