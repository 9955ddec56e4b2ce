"""Speed (issue 16): each module ships only the module_utils it needs.

Ansible's controller builds every module task's payload (AnsiballZ) by parsing the module and every
module_utils file it imports, lazily imported ones included, and the module's process compiles the
shipped files it imports from source on every run (a zip holds no bytecode). Measured on the controller,
`cmg_monitor_report` paid about 0.15 s per task for the 167 KB of endpoint and certificate code it used to
carry for three finding codes. Each case builds the payload with Ansible's own finder
(``ansible.executor.module_common.recursive_finder``) and asserts which files are not in it.
"""

from __future__ import annotations

import pytest

from tests.support.payload import shipped as shipped_files


def shipped(module: str) -> set[str]:
    """The names of the collection's module_utils files in ``module``'s payload."""
    return set(shipped_files(module)) - {module}


@pytest.mark.parametrize(("module", "absent"), [
    # the monitor reads endpoint results: their words, never the code that opens connections or certificates
    ("cmg_monitor_report", {"_endpoint", "_certificate", "_cert_load", "_cert_rules", "_dns_resolve", "_naming"}),
    # an endpoint check resolves names and reads a certificate: no DNS record model, no validation entry point
    ("cmg_endpoint_info", {"_dns_core", "_certificate", "_cert_trust", "_azure"}),
    # the name checks resolve names: no DNS record model and write loop
    ("cmg_name_available", {"_dns_core", "_cname", "_cert_load"}),
    ("cmg_report", {"_azure", "_cert_load", "_dns_core", "_naming"}),
    # a key and a CSR for a host name: not the cloud-aware naming rules
    ("cmg_cert_request", {"_azure", "_cert_rules", "_dns_core", "_naming", "_clouds"}),
])
def test_payload_leaves_out_what_the_module_never_uses(module: str, absent: set[str]) -> None:
    files = shipped(module)
    assert "_module" in files  # the finder did follow the module's imports
    assert not files & absent, sorted(files & absent)


def test_monitor_payload_is_its_own_files() -> None:
    assert shipped("cmg_monitor_report") == {"_endpoint_findings", "_errors", "_module", "_monitor", "_secure_file"}
