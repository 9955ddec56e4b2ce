#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module configmgr.cmg.cmg_endpoint_info: what clients see at a live CMG."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_endpoint_info
short_description: Look at a live CMG as a client does - DNS, CNAME, TLS and the certificate presented
version_added: 0.1.0
description:
  - Resolves the service name of a Configuration Manager cloud management gateway (CMG), through O(nameservers)
    or the resolver of the host the task runs on, follows its CNAME to the deployment name, opens one TLS
    connection to O(port) with SNI set to the service name, and returns what was presented.
  - "Returns the leaf and chain facts (subject, SANs, issuer, not_after, days remaining, SHA-1 and SHA-256
    thumbprints), the negotiated TLS version and cipher, whether the chain verifies for the service name against
    the public roots (the C(certifi) package) and O(ca_bundle), and whether the certificate is the expected one."
  - "Each problem is a finding with a code - V(unresolved), V(cname_wrong_target), V(unreachable) (with the socket
    error), V(tls_below_1_2), V(untrusted), V(name_mismatch), V(expired), V(not_yet_valid), V(expiring_soon),
    V(not_expected_certificate). The codes are described in the collection's C(docs/monitor.md)."
  - Every finding belongs to one check (V(dns), V(connect), V(tls_version), V(trust), V(name), V(expiry),
    V(expected)); RV(checks) says for each whether it passed, warned, failed or could not run, and RV(status)
    is the worst of them.
  - Every network step (each DNS query, the TCP connect, the TLS handshake) waits at most O(timeout) seconds and
    nothing is retried, so a task against a CMG that never answers ends.
  - The module only reads; it never changes anything.
author:
  - configmgr.cmg contributors (@configmgr)
options:
  service_name:
    description:
      - The CMG service name clients connect to, for example C(GraniteFalls.contoso.com).
    type: str
    required: true
  port:
    description:
      - The TCP port of the CMG.
    type: int
    default: 443
  nameservers:
    description:
      - Name servers or resolvers to ask, each C(host) or C(host:port). Queries ask for recursion, so a recursive
        resolver and a server authoritative for the zones both answer.
      - Without it the resolver of the host the task runs on is used (its own timeouts apply).
    type: list
    elements: str
    default: []
  deployment_name:
    description:
      - The deployment name the service name's CNAME must point to, for example C(granitefalls.westus.cloudapp.azure.com).
      - Without it, and without O(region), the CNAME target is reported but not checked.
    type: str
  region:
    description:
      - The Azure region of the CMG; the expected deployment name is derived from it (as M(configmgr.cmg.cmg_cname)
        does) when O(deployment_name) is not given.
    type: str
  cloud_environment:
    description:
      - The Azure cloud whose naming rules derive the deployment name (C(AzureCloud) or C(AzureUSGovernment)).
    type: str
  ca_bundle:
    description:
      - Path (or PEM text) of enterprise roots, and intermediates, that the CMG's clients trust in addition to the
        public roots.
    type: str
  min_days_remaining:
    description:
      - Fewer days of validity left than this gives the warning V(expiring_soon).
    type: int
    default: 30
  expected_thumbprint:
    description:
      - The SHA-1 (as Windows shows it) or SHA-256 thumbprint the deployed certificate must have. Spaces, colons and
        case are ignored.
      - Give at most one of O(expected_thumbprint), O(expected_certificate) and O(expected_certificate_content).
    type: str
  expected_certificate:
    description:
      - Path of the certificate the CMG must present (PFX, PEM or DER) on the host the task runs on.
    type: path
  expected_certificate_content:
    description:
      - The expected certificate as PEM text, or base64 of a PFX or DER file. Not logged.
    type: str
  expected_certificate_password:
    description:
      - The password of the expected PFX. Not logged.
    type: str
  timeout:
    description:
      - Seconds each network step may take (more than 0, at most 300).
    type: float
    default: 10
  fail_on:
    description:
      - The task fails, with every fact and finding still returned, when a finding of this severity or worse exists.
      - V(never) (the default) only reports, as an C(_info) module does; the C(configmgr.cmg.monitor) role decides
        from RV(status).
    type: str
    choices: [error, warning, never]
    default: never
notes:
  - Supports check mode fully, because the module only reads.
  - Bad input (a malformed thumbprint, an unreadable expected certificate or O(ca_bundle), an invalid service name)
    fails the task with a one-line message before any network traffic.
  - The TLS client offers TLS 1.0 to 1.3 (when the local OpenSSL allows it) so that a server stuck on an old version
    is reported as V(tls_below_1_2) and not as unreachable; the certificate is judged after the handshake.
requirements:
  - cryptography >= 45.0.0
  - certifi
  - dnspython (with O(nameservers))
attributes:
  check_mode:
    description: Can run in check_mode and return the same result, since the module only reads.
    support: full
  diff_mode:
    description: The module changes nothing, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Look at the CMG as an internet client does
  configmgr.cmg.cmg_endpoint_info:
    service_name: GraniteFalls.contoso.com
    region: westus
    expected_thumbprint: 9F3C0F3AD7D8B6F1E0B2E3A4C5D6E7F8091A2B3C
  register: cmg_endpoint

- name: Ask the public resolvers, trust the enterprise root, fail under 45 days
  configmgr.cmg.cmg_endpoint_info:
    service_name: GraniteFalls.contoso.com
    nameservers: [1.1.1.1, "8.8.8.8:53"]
    ca_bundle: /etc/pki/contoso-root.pem
    min_days_remaining: 45
    timeout: 5
    fail_on: warning

- name: Show what to fix
  ansible.builtin.debug:
    msg: "{{ cmg_endpoint.findings | map(attribute='message') | list }}"
"""

RETURN = r"""
status:
  description: The worst check - V(fail), V(warn) or V(pass) (a check that could not run never makes it pass).
  returned: always
  type: str
  sample: pass
findings:
  description: The problems found, each with C(code), C(severity) (C(error) or C(warning)) and C(message).
  returned: always
  type: list
  elements: dict
  sample: [{code: expiring_soon, severity: warning, message: "the certificate expires on 2026-12-01T00:00:00Z, in 12 days ..."}]
checks:
  description: One entry per check (C(name), C(status) V(pass), V(warn), V(fail) or V(skip), C(message)), in the order
    V(dns), V(connect), V(tls_version), V(trust), V(name), V(expiry), V(expected).
  returned: always
  type: list
  elements: dict
service_name:
  description: The service name checked (a trailing dot removed).
  returned: always
  type: str
port:
  description: The port connected to.
  returned: always
  type: int
dns:
  description: What the resolution found.
  returned: always
  type: dict
  contains:
    cname_chain:
      description: The CNAME targets followed, in order.
      type: list
      elements: str
    deployment_name:
      description: The service name's CNAME target; None without a CNAME.
      type: str
      sample: granitefalls.westus.cloudapp.azure.com
    expected_deployment_name:
      description: The deployment name from O(deployment_name) or O(region); None when not checked.
      type: str
    addresses:
      description: The addresses at the end of the chain (at most four are tried).
      type: list
      elements: str
    answered_by:
      description: The name server that answered, or C(the system resolver).
      type: str
    nameservers:
      description: O(nameservers) as given.
      type: list
      elements: str
address:
  description: The address the TLS connection went to; None when the name did not resolve.
  returned: always
  type: str
tls:
  description: The negotiated session; None without a handshake.
  returned: always
  type: dict
  contains:
    version:
      description: C(TLSv1.3), C(TLSv1.2), C(TLSv1.1)...
      type: str
    cipher:
      description: The OpenSSL name of the cipher suite.
      type: str
    cipher_bits:
      description: The secret bits of the cipher.
      type: int
certificate:
  description: Facts of the leaf certificate presented; None without a handshake.
  returned: always
  type: dict
  contains:
    subject:
      description: The subject as an RFC 4514 string.
      type: str
    common_name:
      description: The subject's common name.
      type: str
    sans:
      description: The DNS names of the Subject Alternative Name extension.
      type: list
      elements: str
    issuer:
      description: The issuer as an RFC 4514 string.
      type: str
    serial:
      description: The serial number in upper-case hexadecimal.
      type: str
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
    days_remaining:
      description: Whole days of validity left (negative once expired).
      type: int
    thumbprint:
      description: The SHA-1 thumbprint as Windows shows it.
      type: str
    sha256_fingerprint:
      description: The SHA-256 thumbprint.
      type: str
chain:
  description: The chain presented and whether it verifies; None without a handshake.
  returned: always
  type: dict
  contains:
    verified:
      description: Whether the chain verifies against the public roots or O(ca_bundle).
      type: bool
    trust:
      description: C(public), C(enterprise) (a root of O(ca_bundle)) or C(untrusted).
      type: str
    error:
      description: Why it does not verify (cryptography's verifier); None when it does.
      type: str
    path:
      description: The subjects of the verified path, leaf first, when it verifies.
      type: list
      elements: str
    presented:
      description: Facts (as in RV(certificate)) of every certificate the server sent, leaf first.
      type: list
      elements: dict
expected:
  description: C(by) (V(thumbprint), V(certificate) or None) and C(matches) (None when nothing was expected).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._endpoint import Request, SEVERITY, inspect_endpoint
from ansible_collections.configmgr.cmg.plugins.module_utils._module import run

ARGUMENT_SPEC = {
    "service_name": {"type": "str", "required": True},
    "port": {"type": "int", "default": 443},
    "nameservers": {"type": "list", "elements": "str", "default": []},
    "deployment_name": {"type": "str"},
    "region": {"type": "str"},
    "cloud_environment": {"type": "str"},
    "ca_bundle": {"type": "str"},
    "min_days_remaining": {"type": "int", "default": 30},
    "expected_thumbprint": {"type": "str"},
    "expected_certificate": {"type": "path"},
    "expected_certificate_content": {"type": "str", "no_log": True},
    "expected_certificate_password": {"type": "str", "no_log": True},
    "timeout": {"type": "float", "default": 10},
    "fail_on": {"type": "str", "choices": ["error", "warning", "never"], "default": "never"},
}
FAILING = {"error": ("error",), "warning": ("error", "warning"), "never": ()}


def inspect(params: dict) -> dict:
    """Check the endpoint and fail the result when a finding reaches ``fail_on``."""
    options = {key: value for key, value in params.items() if key != "fail_on"}
    options["nameservers"] = tuple(options["nameservers"])
    result = inspect_endpoint(Request(**options))
    failing = [item for item in result["findings"] if SEVERITY[item["code"]] in FAILING[params["fail_on"]]]
    if failing:
        result["failed"] = True
        result["msg"] = (f"{result['service_name']}: {len(failing)} finding(s) at {params['fail_on']} level or worse: "
                         + "; ".join(f"{item['code']}: {item['message']}" for item in failing))
    return result


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("expected_thumbprint", "expected_certificate",
                                                "expected_certificate_content")])
    run(module, lambda: inspect(module.params))


if __name__ == "__main__":
    main()
