# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/prepare.yml with the deployment readiness checks: resource providers, VM quota, the CMG's resource group
and an existing scale set, through ansible-playbook against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_prepare import (
    CNAME_TASK, PLAYBOOK, REPORT_TASK, ROLE, Pki, assert_no_secret, changed_tasks, contoso_pki, report_json, role_vars,
)
from tests.support.ansible import run_playbook
from tests.support.azure_sandbox import AzureSandbox

pytestmark = pytest.mark.integration

__all__ = ["contoso_pki"]  # the module-scoped fixture, shared with test_prepare

SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"
SUBSCRIPTION = SUB.rsplit("/", maxsplit=1)[-1]
READINESS_TASK = ROLE + "Check that the subscription can deploy the CMG (resource providers, VM quota, an existing CMG)"
STOP_TASK = ROLE + "Stop with the message of the failed step"
ZONE = {"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}}


def _vars(contoso_pki: Pki, report_dir: Path, **extra):
    return role_vars(contoso_pki, contoso_pki.pfx("granitefalls.pfx", "GraniteFalls.contoso.com"), report_dir,
                     cmg_dns_zone="contoso.com", cmg_dns_resource_group="rg-dns", cmg_wait_for_dns=False, **extra)


def test_unregistered_key_vault_stops_before_any_write(azure_sandbox: AzureSandbox, contoso_pki: Pki,
                                                       tmp_path: Path) -> None:
    azure_sandbox.seed({**ZONE, "readiness": {"providers": {"Microsoft.KeyVault": "NotRegistered"}}})
    report_dir = tmp_path / "report"
    run = run_playbook(PLAYBOOK, extra_vars=_vars(contoso_pki, report_dir), env=azure_sandbox.env())
    assert run.rc == 2, run.stdout
    assert azure_sandbox.writes() == [] and [r for r in azure_sandbox.arm_requests() if r.method == "POST"
                                             and "register" in r.path] == []
    message = run.result(STOP_TASK)["msg"]
    assert message == (
        f"the subscription cannot deploy the CMG: Microsoft.KeyVault is NotRegistered in subscription {SUBSCRIPTION}: "
        f"a CMG deployment needs it Registered (fix: az provider register --namespace Microsoft.KeyVault --subscription "
        f"{SUBSCRIPTION}, or set register: true (role: cmg_register_providers: true)) (readiness report: {report_dir})")
    report = report_json(report_dir)
    assert report["status"] == "fail"
    assert [check["id"] for check in report["to_fix"]] == [
        "readiness.provider_Microsoft.KeyVault", "availability.not_run", "dns.not_run", "propagation.not_run"]
    assert report["to_fix"][0]["message"].endswith(
        f"; fix: az provider register --namespace Microsoft.KeyVault --subscription {SUBSCRIPTION}, or set register: true "
        "(role: cmg_register_providers: true)")
    assert report["not_run"]["dns"].startswith("not run: the role stopped at 'Check that the subscription can deploy")
    assert report["failure"]["step"] == "readiness"  # the failure is the readiness step's, not availability's
    assert_no_secret(report_dir, run, secrets=(azure_sandbox.client_secret,))


def test_register_providers_then_a_second_run_changes_nothing(azure_sandbox: AzureSandbox, contoso_pki: Pki,
                                                              tmp_path: Path) -> None:
    azure_sandbox.seed({**ZONE, "readiness": {
        "providers": {"Microsoft.KeyVault": "NotRegistered"}, "registering_polls": 0,
        "scale_sets": [{"name": "granitefalls", "resource_group": "rg-cmg", "location": "westus",
                        "size": "Standard_A4_v2", "capacity": 2}]}})
    report_dir = tmp_path / "report"
    extra = _vars(contoso_pki, report_dir, cmg_register_providers=True, cmg_resource_group="rg-cmg", cmg_vm_size="large",
                  cmg_vm_instances=2)
    first = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert first.rc == 0, first.stdout
    assert changed_tasks(first) == [READINESS_TASK, CNAME_TASK, REPORT_TASK]
    assert [(r.method, r.path) for r in azure_sandbox.arm_requests() if r.method == "POST" and "register" in r.path] == [
        ("POST", f"{SUB}/providers/Microsoft.KeyVault/register")]
    report = first.result(REPORT_TASK)
    assert report["status"] == "pass"
    assert {key: report["wizard"][key] for key in ("resource_group", "vm_size", "vm_instances")} == {
        "resource_group": "rg-cmg", "vm_size": "Large (Standard_A4_v2)", "vm_instances": 2}
    existing = next(check for check in report["checks"] if check["id"] == "readiness.existing_deployment")
    assert existing["message"].startswith("existing deployment found: scale set granitefalls in westus, Standard_A4_v2 x 2")
    markdown = (report_dir / "cmg-readiness.md").read_text(encoding="utf-8")
    assert "| VM size | `Large (Standard_A4_v2)` |" in markdown and "| Resource group | `rg-cmg` |" in markdown
    azure_sandbox.clear_requests()
    second = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert second.rc == 0, second.stdout
    assert changed_tasks(second) == []
    assert azure_sandbox.writes() == [] and [r for r in azure_sandbox.arm_requests() if r.method == "POST"
                                             and "register" in r.path] == []


def test_quota_stops_the_role_and_a_name_in_another_resource_group_is_taken(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    azure_sandbox.seed({**ZONE,
                        "names": {"public_ips": [{"name": "cmg-pip", "resource_group": "rg-other", "location": "westus",
                                                  "label": "granitefalls"}]},
                        "readiness": {"usages": {"westus": {"standardAv2Family": [0, 20]}}}})
    report_dir = tmp_path / "report"
    too_big = run_playbook(PLAYBOOK, extra_vars=_vars(contoso_pki, report_dir, cmg_resource_group="rg-cmg",
                                                      cmg_vm_size="large", cmg_vm_instances=16), env=azure_sandbox.env())
    assert too_big.rc == 2
    message = too_big.result(STOP_TASK)["msg"]
    assert ("16 x Standard_A4_v2 (4 vCPUs each) = 64 vCPUs in westus do not fit the family quota: Standard Av2 Family "
            "vCPUs (standardAv2Family): 0 of 20 in use, 20 free") in message
    assert "https://learn.microsoft.com/azure/quotas/per-vm-quota-requests" in message
    assert [check["id"] for check in report_json(report_dir)["to_fix"]] == [
        "readiness.quota_standardAv2Family", "availability.not_run", "dns.not_run", "propagation.not_run"]
    assert azure_sandbox.writes() == []
    fits = run_playbook(PLAYBOOK, extra_vars=_vars(contoso_pki, report_dir, cmg_resource_group="rg-cmg",
                                                   cmg_vm_size="large", cmg_vm_instances=5), env=azure_sandbox.env())
    assert fits.rc == 2  # the verdict: the label is this subscription's, but in another resource group
    assert fits.status(READINESS_TASK) == "ok" and fits.result(READINESS_TASK)["ready"] is True
    report = report_json(report_dir)
    assert [check["id"] for check in report["to_fix"]] == ["availability.dns_label"]
    assert report["to_fix"][0]["message"].startswith(
        f"granitefalls.westus.cloudapp.azure.com is held by this subscription's resource {SUB}/resourceGroups/rg-other/")
    assert azure_sandbox.writes() == []  # the CNAME is not written for names that are not available
