"""Speed (issue 16): a module task imports only what it uses.

Each case runs a real module the way AnsiballZ does (``python -m <module> <args file>``, here under the benchmark
harness, which records ``sys.modules`` when the module exits) and asserts which packages it did not import: a
certificate task loads no HTTP stack, no Azure SDK and no DNS library. Counts of modules, never times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives import serialization

from tests.support import pki
from tests.support.ansible import COLLECTIONS, ROOT
from tests.support.azure_sandbox import AzureSandbox
from tests.support.azure_sandbox import dns as sandbox_dns

HARNESS = ROOT / "tests" / "benchmarks" / "harness.py"
MODULES = "ansible_collections.configmgr.cmg.plugins.modules."
SERVICE = "GraniteFalls.contoso.test"
#: What no certificate task needs: the HTTP stack, Azure, DNS.
NETWORK = ("http.client", "urllib.request", "ssl", "requests", "urllib3", "azure", "msal", "dns")


def imported(tmp_path: Path, module: str, args: dict[str, Any], extra_env: dict[str, str] | None = None,
             results: list[dict[str, Any]] | None = None) -> set[str]:
    """The module names in ``sys.modules`` when ``module`` exits after a successful run with ``args``
    (``extra_env``: the Azure sandbox's variables; ``results`` collects the module's result)."""
    args_file, stats = tmp_path / "args.json", tmp_path / "stats.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AZURE_", "PYTHON", "REQUESTS_"))}
    env.update(extra_env or {})
    env["PYTHONPATH"] = str(COLLECTIONS)
    done = subprocess.run([sys.executable, str(HARNESS), str(stats), MODULES + module, str(args_file)], env=env,
                          capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    result = json.loads(done.stdout)
    assert not result.get("failed"), result
    if results is not None:
        results.append(result)
    return set(json.loads(stats.read_text(encoding="utf-8"))["modules"])


def packages(names: set[str], wanted: tuple[str, ...]) -> list[str]:
    return sorted(package for package in wanted if any(name == package or name.startswith(package + ".") for name in names))


def cert_validate(tmp_path: Path) -> dict[str, Any]:
    return {**pki.build_sample(tmp_path / "pki", SERVICE), "service_name": SERVICE}


def cert_request(tmp_path: Path) -> dict[str, Any]:
    return {"service_name": SERVICE, "passphrase": "key-Pa55phrase", "private_key_path": str(tmp_path / "cmg.key"),
            "csr_path": str(tmp_path / "cmg.csr")}


def pfx(tmp_path: Path) -> dict[str, Any]:
    root = pki.make_cert("Lazy Root", pki.rsa_key(2048, 1), ca=True)
    leaf = pki.make_cert(SERVICE, pki.rsa_key(2048, 3), root, crl=(), aia=())
    (tmp_path / "root.pem").write_bytes(pki.pem(root.cert))
    (tmp_path / "leaf.pem").write_bytes(pki.pem(leaf.cert))
    (tmp_path / "leaf.key").write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    return {"path": str(tmp_path / "cmg.pfx"), "password": "Pfx-Pa55word", "certificate": str(tmp_path / "leaf.pem"),
            "private_key": str(tmp_path / "leaf.key"), "ca_bundle": str(tmp_path / "root.pem")}


@pytest.mark.parametrize(("module", "make_args"), [("cmg_cert_validate", cert_validate), ("cmg_cert_request", cert_request),
                                                   ("cmg_pfx", pfx)])
def test_certificate_tasks_import_no_network_stack(module: str, make_args: Callable[[Path], dict[str, Any]],
                                                   tmp_path: Path) -> None:
    names = imported(tmp_path, module, make_args(tmp_path))
    assert "cryptography.x509" in names  # the harness saw the module's real work
    assert packages(names, NETWORK) == []


def test_readiness_imports_no_compute_sdk(tmp_path: Path, azure_sandbox: Any) -> None:
    """cmg_azure_readiness reads the usages and the scale set through the plain ARM pipeline: no azure-mgmt-* package."""
    azure_sandbox.seed({"readiness": {"scale_sets": [{"name": "granitefalls", "resource_group": "rg-cmg", "location": "westus",
                                                      "size": "Standard_A2_v2", "capacity": 1}]}})
    results: list[dict[str, Any]] = []
    args = {"prefix": "GraniteFalls", "region": "westus", "resource_group": "rg-cmg"}
    names = imported(tmp_path, "cmg_azure_readiness", args, azure_sandbox.env(), results)
    assert results[0]["ready"] is True and results[0]["existing_deployment"]["vm_size"] == "Standard_A2_v2"
    assert "azure.mgmt.core" in names  # the harness saw the module's real work, through the plain pipeline
    assert packages(names, ("azure.mgmt.compute", "azure.mgmt.network", "azure.mgmt.storage", "azure.mgmt.keyvault",
                            "azure.mgmt.dns")) == []


def test_cname_in_azure_dns_imports_no_dns_sdk(tmp_path: Path, azure_sandbox: AzureSandbox) -> None:
    """cmg_cname (provider azure_dns) sends its requests through azure-core's ARM pipeline: azure-mgmt-dns (and the
    isodate and azure.core.polling it brings) stay unimported, and no other SDK package comes instead."""
    sandbox_dns.add_zone(azure_sandbox, "contoso.com")
    args = {"service_name": "GraniteFalls.contoso.com", "target": "granitefalls.westus.cloudapp.azure.com",
            "provider": "azure_dns", "wait": False}
    names = imported(tmp_path, "cmg_cname", args, azure_sandbox.env())
    assert sandbox_dns.get_record(azure_sandbox, "contoso.com", "granitefalls") is not None  # the task did its work
    assert "azure.mgmt.core" in names and "azure.identity" in names
    assert [name for name in names if name.startswith("azure.mgmt.") and not name.startswith("azure.mgmt.core")] == []
    assert packages(names, ("isodate", "azure.core.polling")) == []


def test_cname_over_rfc2136_loads_no_azure_layer() -> None:
    """The provider registry reads every provider's options, but an RFC 2136 task never loads the Azure session
    layer (``_azure``, ``_azure_metadata``) or any Azure package: ``_dns_azure`` imports the session only when an
    Azure DNS provider is made."""
    probe = ("import json, sys\n"
             "from ansible_collections.configmgr.cmg.plugins.modules import cmg_cname\n"
             "from ansible_collections.configmgr.cmg.plugins.module_utils._dns_core import provider_class\n"
             "spec = cmg_cname.argument_spec()\n"
             "provider = provider_class('rfc2136').from_params({'server': '127.0.0.1', 'port': 53, 'key_name': None,\n"
             "                                                 'key_secret': None, 'key_algorithm': 'hmac-sha256'})\n"
             "print(json.dumps({'options': sorted(spec), 'provider': type(provider).__name__, 'modules': sorted(sys.modules)}))\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AZURE_", "PYTHON"))}
    env["PYTHONPATH"] = str(COLLECTIONS)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout)
    assert "resource_group" in found["options"] and "server" in found["options"]  # both providers' options are there
    assert found["provider"] == "Rfc2136Provider"
    utils = "ansible_collections.configmgr.cmg.plugins.module_utils."
    assert {utils + "_dns_azure", utils + "_dns_rfc2136"} <= set(found["modules"])
    assert [name for name in found["modules"] if name in (utils + "_azure", utils + "_azure_metadata")
            or name == "azure" or name.startswith(("azure.", "msal", "requests"))] == []
