"""configmgr.cmg.cmg_azure_readiness (and cmg_name_available's resource_group) through ansible-playbook, against the
Azure sandbox."""

from __future__ import annotations

import pytest

from tests.support.ansible import play, run_playbook

pytestmark = pytest.mark.integration

MODULE = "configmgr.cmg.cmg_azure_readiness"
SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"
SUBSCRIPTION = SUB.rsplit("/", maxsplit=1)[-1]


def _task(name, **args):
    return {"name": name, MODULE: dict({"prefix": "GraniteFalls", "region": "westus", "resource_group": "rg-cmg"}, **args)}


def _statuses(result):
    return {check["name"]: check["status"] for check in result["checks"]}


def test_unregistered_provider_then_register_and_rerun(azure_sandbox):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.KeyVault": "NotRegistered"}, "registering_polls": 0}})
    run = run_playbook(play([
        _task("read only"),
        dict(_task("check mode", register=True), check_mode=True),
        _task("register", register=True),
        _task("again", register=True),
    ]), env=azure_sandbox.env(), diff=True)
    assert run.rc == 0, run.stdout + run.stderr
    read_only = run.result("read only")
    assert (read_only["ready"], read_only["changed"], _statuses(read_only)["provider Microsoft.KeyVault"]) == (
        False, False, "fail")
    assert read_only["msg"] == (
        f"the subscription cannot deploy the CMG: Microsoft.KeyVault is NotRegistered in subscription {SUBSCRIPTION}: "
        f"a CMG deployment needs it Registered (fix: az provider register --namespace Microsoft.KeyVault --subscription "
        f"{SUBSCRIPTION}, or set register: true (role: cmg_register_providers: true))")
    assert "\n" not in read_only["msg"]
    check = run.result("check mode")
    assert (check["changed"], check["ready"], check["providers"]["Microsoft.KeyVault"]) == (True, True, "NotRegistered")
    registered = run.result("register")
    assert (registered["changed"], registered["ready"], registered["providers"]["Microsoft.KeyVault"]) == (
        True, True, "Registered")
    assert registered["diff"]["before"]["providers"]["Microsoft.KeyVault"] == "NotRegistered"
    again = run.result("again")
    assert (again["changed"], again["ready"]) == (False, True)
    posts = [r.path for r in azure_sandbox.arm_requests() if r.method == "POST"]
    assert posts == [f"{SUB}/providers/Microsoft.KeyVault/register"]  # once: not in check mode, not on the re-run
    assert azure_sandbox.client_secret not in run.stdout + run.stderr


def test_quota_and_existing_scale_set(azure_sandbox):
    azure_sandbox.seed({"readiness": {
        "usages": {"westus": {"standardAv2Family": [0, 20]}, "eastus": {"standardAv2Family": [4, 20]}},
        "scale_sets": [{"name": "granitefalls", "resource_group": "rg-cmg", "location": "eastus",
                        "size": "Standard_A2_v2", "capacity": 2}]}})
    run = run_playbook(play([
        _task("too big", vm_size="large", vm_instances=16),
        _task("fits", prefix="OtherCmg", vm_size="large", vm_instances=5),
        _task("existing", region="eastus", vm_instances=10),
        dict(_task("bad count", vm_instances=17), ignore_errors=True),
    ]), env=azure_sandbox.env())
    too_big = run.result("too big")
    assert (too_big["ready"], _statuses(too_big)["quota standardAv2Family"]) == (False, "fail")
    assert next(c for c in too_big["checks"] if c["name"] == "existing deployment")["status"] == "warn"  # in eastus
    assert ("16 x Standard_A4_v2 (4 vCPUs each) = 64 vCPUs in westus do not fit the family quota: Standard Av2 Family "
            "vCPUs (standardAv2Family): 0 of 20 in use, 20 free (fix: raise the standardAv2Family vCPU limit in westus "
            "to 64 or more (quota request: https://learn.microsoft.com/azure/quotas/per-vm-quota-requests)") in too_big["msg"]
    fits = run.result("fits")
    assert (fits["ready"], fits["msg"], fits["existing_deployment"]) == (True, "the subscription can deploy the CMG", None)
    existing = run.result("existing")
    assert existing["ready"] is True  # 20 vCPUs needed, 4 used by the CMG itself: 16 + 4 = 20 fit
    assert existing["existing_deployment"] == {
        "name": "granitefalls", "location": "eastus", "vm_size": "Standard_A2_v2", "capacity": 2,
        "provisioning_state": "Succeeded",
        "id": f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Compute/virtualMachineScaleSets/granitefalls"}
    assert next(c for c in existing["checks"] if c["name"] == "existing deployment")["message"].startswith(
        "existing deployment found: scale set granitefalls in eastus, Standard_A2_v2 x 2 (")
    assert run.status("bad count") == "failed"
    assert run.result("bad count")["msg"] == "vm_instances must be 1 to 16 (a CMG scale set), not 17"
    assert azure_sandbox.writes() == [] and [r for r in azure_sandbox.arm_requests() if r.method == "POST"] == []


def test_name_held_in_another_resource_group_is_taken(azure_sandbox):
    azure_sandbox.seed({"names": {
        "public_ips": [{"name": "cmg-pip", "resource_group": "rg-other", "location": "westus", "label": "granitefalls"}],
        "vaults": [{"name": "granitefalls", "resource_group": "rg-cmg", "location": "westus"}]}})
    run = run_playbook(play([
        {"name": "scoped", "configmgr.cmg.cmg_name_available": {"prefix": "GraniteFalls", "region": "westus",
                                                                "resource_group": "rg-cmg"}},
        {"name": "unscoped", "configmgr.cmg.cmg_name_available": {"prefix": "GraniteFalls", "region": "westus"}},
    ]), env=azure_sandbox.env())
    assert run.rc == 0, run.stdout
    scoped = run.result("scoped")
    ip = f"{SUB}/resourceGroups/rg-other/providers/Microsoft.Network/publicIPAddresses/cmg-pip"
    assert (scoped["available"], scoped["resources"]["dns_label"]["status"], scoped["resources"]["key_vault"]["status"]) \
        == (False, "taken", "owned")
    assert scoped["resources"]["dns_label"]["message"] == (
        f"granitefalls.westus.cloudapp.azure.com is held by this subscription's resource {ip}, outside the CMG's "
        "resource group rg-cmg: choose another prefix, or set resource_group to rg-other if that is this CMG's group")
    unscoped = run.result("unscoped")
    assert (unscoped["available"], unscoped["ownership_scope"].split(":")[0]) == (True, "subscription")
