"""The readiness step of the report: cmg_azure_readiness checks as rows, the VM and resource group in the wizard."""

from __future__ import annotations

from ansible_collections.configmgr.cmg.plugins.module_utils._report import build_report, render_markdown

NAMES = {"service_name": "GraniteFalls.contoso.com", "prefix": "GraniteFalls", "dns_label": "granitefalls",
         "deployment_name": "granitefalls.westus.cloudapp.azure.com", "region": "westus",
         "cloud_environment": "AzureCloud", "cname_required": True, "problems": []}
READINESS = {
    "changed": False, "ready": False, "resource_group": "rg-cmg",
    "vm": {"choice": "large", "size": "Standard_A4_v2", "vcpus": 4, "family": "standardAv2Family", "instances": 16,
           "required_vcpus": 64},
    "checks": [
        {"name": "provider Microsoft.KeyVault", "status": "fail", "message": "Microsoft.KeyVault is NotRegistered",
         "fix": "az provider register --namespace Microsoft.KeyVault"},
        {"name": "quota cores", "status": "pass", "message": "64 vCPUs fit", "fix": None},
        {"name": "existing deployment", "status": "warn", "message": "elsewhere", "fix": "use region eastus"},
    ],
}


def test_readiness_checks_and_wizard_rows():
    report = build_report({"names": NAMES, "readiness": READINESS})
    rows = {check["id"]: (check["status"], check["message"]) for check in report["checks"] if check["step"] == "readiness"}
    assert rows == {
        "readiness.provider_Microsoft.KeyVault": (
            "fail", "Microsoft.KeyVault is NotRegistered; fix: az provider register --namespace Microsoft.KeyVault"),
        "readiness.quota_cores": ("pass", "64 vCPUs fit"),
        "readiness.existing_deployment": ("warn", "elsewhere; fix: use region eastus"),
    }
    assert report["status"] == "fail"
    assert (report["wizard"]["resource_group"], report["wizard"]["vm_size"], report["wizard"]["vm_instances"]) == (
        "rg-cmg", "Large (Standard_A4_v2)", 16)
    page = render_markdown(report, "2026-01-01T00:00:00Z")
    assert "| Resource group | `rg-cmg` |" in page and "| VM instances | `16` |" in page
    assert "| FAIL | Deployment readiness | Readiness: provider Microsoft.KeyVault |" in page


def test_readiness_failed_without_checks_and_absent_or_skipped():
    failed = build_report({"names": NAMES, "readiness": {"failed": True, "msg": "403: may not read providers"}})
    assert [(c["id"], c["status"], c["message"]) for c in failed["checks"] if c["step"] == "readiness"] == [
        ("readiness.error", "fail", "403: may not read providers")]
    absent = build_report({"names": NAMES})
    assert [c for c in absent["checks"] if c["step"] == "readiness"] == [] and "vm_size" not in absent["wizard"]
    skipped = build_report({"names": NAMES}, {"readiness": "method dns"})
    assert [(c["id"], c["status"]) for c in skipped["checks"] if c["step"] == "readiness"] == [("readiness.skipped", "skip")]
