#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module configmgr.cmg.cmg_cert_validate: judge a CMG server authentication certificate."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_cert_validate
short_description: Check a CMG server authentication certificate before it is used
version_added: 0.1.0
description:
  - Reads the server authentication certificate of a Configuration Manager cloud management gateway (CMG)
    (PFX, PEM or DER) and reports whether the CMG can use it, with one finding per problem that says what to do.
  - "Checks: the private key is present and matches; the key is RSA 2048 or 4096 bits; the Server Authentication
    EKU is present; the certificate is valid now and for O(min_days_remaining) more days; the signature hash is
    SHA-2; the service name is covered by the SAN list (or the CN); the chain reaches a public or enterprise root
    and the file holds its intermediates; a name under Azure's own domains is not publicly trusted; CRL and AIA
    URLs are published over http; the CMG naming rules; a renewal keeps the common name, case included."
  - The finding codes are documented in the collection's C(docs/findings.md).
  - The private key is only compared with the certificate; it is never returned, logged or written.
  - The module only reads; it never changes anything.
author:
  - configmgr.cmg contributors (@configmgr)
options:
  path:
    description:
      - Path of the certificate file on the host the task runs on (usually C(localhost)).
      - Exactly one of O(path) and O(content) is required.
      - A regular file of at most 4 MiB; a device, FIFO or socket is refused. A PFX whose key derivation asks for
        more than 1,000,000 iterations, or whose structure nests deeper than 32 levels, is refused before it is
        decrypted; a PEM file may hold at most 5,000 blocks.
    type: path
  content:
    description:
      - The certificate as PEM text, or base64 of a PFX or DER file.
      - A PEM bundle may hold the private key, the certificate and its chain in any order.
      - Not logged (C(no_log)), since it may hold a private key.
    type: str
  password:
    description:
      - The password of the PFX file or of the encrypted PEM private key.
    type: str
  format:
    description:
      - The file format. V(auto) recognises PEM, DER and PFX (PKCS#12) from the data.
    type: str
    choices: [auto, pfx, pem, der]
    default: auto
  service_name:
    description:
      - The service name the CMG will use. Defaults to the certificate's common name (CN).
      - Required for a wildcard certificate unless O(prefix) is given.
    type: str
  prefix:
    description:
      - For a wildcard certificate, the CMG prefix; the service name becomes the prefix plus the wildcard's domain.
    type: str
  region:
    description:
      - The Azure region of the CMG, passed to the naming rules (deployment name).
    type: str
  cloud_environment:
    description:
      - The Azure cloud (C(AzureCloud) or C(AzureUSGovernment)), passed to the naming rules.
      - When not set, the E(AZURE_CLOUD_ENVIRONMENT) environment variable (as AWX's Azure credential injects it)
        decides, else C(AzureCloud), the same way as for the other modules.
    type: str
  content_enabled:
    description:
      - Whether the CMG will hold content; then the prefix must also be a valid storage account name.
    type: bool
    default: false
  trust:
    description:
      - Where public trust is judged. V(certifi) is Mozilla's list from the C(certifi) package, V(system) is the
        trust store of the host that runs the task; anything else is a path to a PEM file or a directory of them.
      - Every certificate of the store is a trust anchor. cryptography's verifier (web PKI server profile) builds the
        path from these anchors and the untrusted intermediates (the file's other certificates and O(ca_bundle)); the
        result's C(chain.subjects) is the path it built. See the collection's C(docs/findings.md).
    type: str
    default: certifi
  ca_bundle:
    description:
      - Path (or PEM text) of enterprise roots, and intermediates, that the organisation's clients trust.
      - Its self-signed certificates are trust anchors; the others are untrusted intermediates for path building.
      - A chain that ends at one of these roots is reported as C(enterprise).
    type: str
  min_days_remaining:
    description:
      - Fewer days of validity left than this gives the warning C(expiring_soon).
    type: int
    default: 30
  previous_certificate:
    description:
      - Path (or PEM text) of the certificate this one renews; the common names must be identical, case included.
      - A PEM or DER file, or a PFX protected by the same O(password) as the new certificate. Any other file fails the
        task with a message that starts with C(previous_certificate <path>) and gives the reason.
    type: str
  check_urls:
    description:
      - Fetch the http CRL and AIA URLs and warn when they cannot be reached. Without it only their form is checked.
      - Only the http and https URLs the certificate names are fetched (at most 16), all at once, within one overall
        deadline of 10 seconds; a URL that has not answered by then is reported as unreachable.
    type: bool
    default: false
  fail_on:
    description:
      - The task fails, with all facts and findings still returned, when a finding of this severity or worse exists.
      - V(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
notes:
  - Supports check mode fully, because the module only reads.
  - A file that cannot be read (missing, empty, truncated, corrupt, wrong password, legacy RC2 encryption that the
    OpenSSL build cannot decrypt) fails the task with a one-line message.
requirements:
  - certifi (for O(trust=certifi))
extends_documentation_fragment:
  - configmgr.cmg._cryptography
attributes:
  check_mode:
    description: Can run in check_mode and return the same result, since the module only reads.
    support: full
  diff_mode:
    description: The module changes nothing, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Validate the CMG certificate the PKI team sent
  configmgr.cmg.cmg_cert_validate:
    path: /secure/GraniteFalls.pfx
    password: "{{ vault_pfx_password }}"
    region: westus
    ca_bundle: /etc/pki/contoso-root.pem
  register: cmg_cert

- name: Validate a wildcard certificate for the prefix GraniteFalls, only reporting
  configmgr.cmg.cmg_cert_validate:
    path: /secure/wildcard.pfx
    password: "{{ vault_pfx_password }}"
    prefix: GraniteFalls
    fail_on: never
  register: cmg_cert

- name: Show what to fix
  ansible.builtin.debug:
    msg: "{{ cmg_cert.findings | map(attribute='message') | list }}"
"""

RETURN = r"""
valid:
  description: True when no finding is an error.
  returned: success or when O(fail_on) fails the task
  type: bool
  sample: true
findings:
  description: The problems found, each with C(code), C(severity) (C(error), C(warning) or C(info)) and C(message).
  returned: success or when O(fail_on) fails the task
  type: list
  elements: dict
  sample: [{code: chain_enterprise, severity: info, message: "the chain ends at the enterprise root ..."}]
certificate:
  description: Facts of the certificate (never the private key).
  returned: success or when O(fail_on) fails the task
  type: dict
  contains:
    subject:
      description: The subject as an RFC 4514 string.
      type: str
      sample: CN=GraniteFalls.contoso.com,O=Contoso
    common_name:
      description: The subject's common name, None when it has none.
      type: str
      sample: GraniteFalls.contoso.com
    sans:
      description: The DNS names of the Subject Alternative Name extension.
      type: list
      elements: str
      sample: [GraniteFalls.contoso.com]
    issuer:
      description: The issuer as an RFC 4514 string.
      type: str
    serial:
      description: The serial number in upper-case hexadecimal.
      type: str
    thumbprint:
      description: The SHA-1 thumbprint as Windows shows it (upper-case hexadecimal, no separators).
      type: str
      sample: 9F3C0F3AD7D8B6F1E0B2E3A4C5D6E7F8091A2B3C
    sha256_fingerprint:
      description: The SHA-256 fingerprint (upper-case hexadecimal).
      type: str
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2027-01-01T00:00:00Z"
    days_remaining:
      description: Whole days of validity left (negative once expired).
      type: int
    key_type:
      description: C(RSA), C(EC), C(DSA), C(Ed25519) or C(Ed448).
      type: str
    key_size:
      description: The key size in bits.
      type: int
    signature_hash:
      description: The hash of the signature (C(sha256), C(sha1)...).
      type: str
    eku:
      description: The Enhanced Key Usage purposes (C(serverAuth), C(clientAuth) or dotted OIDs); None without the extension.
      type: list
      elements: str
    key_usage:
      description: The key usage bits set (C(digitalSignature), C(keyEncipherment)...).
      type: list
      elements: str
    wildcard:
      description: Whether the CN or a SAN is a wildcard name.
      type: bool
    has_private_key:
      description: Whether the file holds a private key.
      type: bool
    private_key_matches:
      description: Whether that key belongs to the certificate; None without a key.
      type: bool
    friendly_name:
      description: The PFX friendly name, None when there is none.
      type: str
chain:
  description:
    - The certification path cryptography's verifier built from the file's certificates, O(ca_bundle) and the trust
      store (web PKI server profile for the service name).
  returned: success or when O(fail_on) fails the task
  type: dict
  contains:
    trust:
      description:
        - C(public) (reaches a trust anchor of O(trust)), C(enterprise) (a root of O(ca_bundle)) or C(untrusted) (no path
          reaches a trust anchor; C(chain_untrusted) carries the library's reason).
        - C(unknown) when the issuer of the certificate is not in the file, O(ca_bundle) or O(trust) (a PFX without its
          intermediates); trust cannot be judged, and C(chain_incomplete) says so.
      type: str
    complete:
      description: Whether the file holds every intermediate certificate of the path.
      type: bool
    subjects:
      description: The subjects of the path, leaf first, up to the trust anchor; only the leaf when no path was found.
      type: list
      elements: str
service_name:
  description: The CMG service name checked (the CN, O(service_name), or the wildcard with O(prefix)); None when none.
  returned: success or when O(fail_on) fails the task
  type: str
  sample: GraniteFalls.contoso.com
names:
  description: The CMG names derived by the naming rules (as the C(cmg_names) filter returns them); None without a service name.
  returned: success or when O(fail_on) fails the task
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._certificate import (
    SEVERITY_RANK, ValidationRequest, validate)
from ansible_collections.configmgr.cmg.plugins.module_utils._module import run

ARGUMENT_SPEC = {
    "path": {"type": "path"},
    "content": {"type": "str", "no_log": True},
    "password": {"type": "str", "no_log": True},
    "format": {"type": "str", "choices": ["auto", "pfx", "pem", "der"], "default": "auto"},
    "service_name": {"type": "str"},
    "prefix": {"type": "str"},
    "region": {"type": "str"},
    "cloud_environment": {"type": "str"},
    "content_enabled": {"type": "bool", "default": False},
    "trust": {"type": "str", "default": "certifi"},
    "ca_bundle": {"type": "str"},
    "min_days_remaining": {"type": "int", "default": 30},
    "previous_certificate": {"type": "str"},
    "check_urls": {"type": "bool", "default": False},
    "fail_on": {"type": "str", "choices": ["error", "warning", "never"], "default": "error"},
}


def judge(params: dict) -> dict:
    """Validate the certificate and fail the result when a finding reaches ``fail_on``."""
    result = validate(ValidationRequest.from_params(params))
    result["changed"] = False
    if params["fail_on"] != "never":
        level = SEVERITY_RANK[params["fail_on"]]
        failing = [item for item in result["findings"] if SEVERITY_RANK[item["severity"]] >= level]
        if failing:
            result["failed"] = True
            result["msg"] = (f"the certificate has {len(failing)} finding(s) at {params['fail_on']} level or worse: "
                             + "; ".join(f"{item['code']}: {item['message']}" for item in failing))
    return result


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("path", "content")], required_one_of=[("path", "content")])
    run(module, lambda: judge(module.params))


if __name__ == "__main__":
    main()
