#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module configmgr.cmg.cmg_pfx: build or re-package the CMG PFX and check it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_pfx
short_description: Build a CMG server certificate PFX that the Configuration Manager console imports
version_added: 0.1.0
description:
  - Builds a PFX (PKCS#12) from a certificate, its private key and its chain, or re-packages an existing PFX (for
    example one with legacy RC2 encryption, or one missing its intermediate certificates) into a good one.
  - V(modern) encryption is what current Windows imports (AES-256-CBC with PBKDF2, SHA-256 MAC); V(legacy) is
    TripleDES-SHA1 with a SHA-1 MAC, for old consoles.
  - The new PFX is checked by the same validation as M(configmgr.cmg.cmg_cert_validate) in the same task; a PFX with
    an error finding is not written and the task fails with the findings.
  - The file is written atomically with mode C(0600). A PFX already at O(path) that holds the same key, certificate,
    chain, friendly name and encryption is not rewritten (contents are compared, since PFX encryption is salted).
author:
  - configmgr.cmg contributors (@configmgr)
options:
  path:
    description:
      - Where the PFX is written. Without it the PFX is returned base64-encoded as RV(pfx).
    type: path
  password:
    description:
      - The password of the new PFX (and of an existing one at O(path)). Not logged.
    type: str
    required: true
  encryption:
    description:
      - V(modern) (AES-256, PBKDF2, SHA-256 MAC) or V(legacy) (TripleDES-SHA1, SHA-1 MAC).
    type: str
    choices: [modern, legacy]
    default: modern
  certificate:
    description:
      - The certificate, as a path or PEM text. A PEM bundle (for example an ACME full chain) may hold the chain too;
        the certificate of the private key is the leaf.
    type: str
  private_key:
    description:
      - The private key, as a path or PEM text (for example RV(configmgr.cmg.cmg_cert_request#module:private_key)).
        Not logged.
    type: str
  private_key_passphrase:
    description:
      - The passphrase of an encrypted O(private_key). Not logged.
    type: str
  chain:
    description:
      - Intermediate (and root) certificates to add, each a path or PEM text. Duplicates are dropped; the chain is
        ordered from the leaf's issuer up.
    type: list
    elements: str
    default: []
  source_pfx:
    description:
      - An existing PFX to re-package instead of O(certificate) and O(private_key).
    type: path
  source_password:
    description:
      - The password of O(source_pfx); defaults to O(password). Not logged.
    type: str
  friendly_name:
    description:
      - The friendly name stored in the PFX. Defaults to that of O(source_pfx), else the certificate's CN.
    type: str
  service_name:
    description:
      - The CMG service name the certificate must cover. Defaults to the certificate's CN.
    type: str
  trust:
    description:
      - Where public trust is judged, as in M(configmgr.cmg.cmg_cert_validate).
    type: str
    default: certifi
  ca_bundle:
    description:
      - Enterprise roots (path or PEM text), as in M(configmgr.cmg.cmg_cert_validate).
    type: str
  min_days_remaining:
    description:
      - Fewer days left than this gives the warning C(expiring_soon).
    type: int
    default: 30
  previous_certificate:
    description:
      - The certificate this one renews (path or PEM text, or a PFX with the same O(password)); the common names must be
        identical, case included, as the console requires.
    type: str
  cmg_name:
    description:
      - The CMG's name in Configuration Manager. With it the result holds RV(upload), the PowerShell that sets the new
        PFX on the CMG.
    type: str
  windows_directory:
    description:
      - The folder on the Configuration Manager console host that the PFX is copied to, for RV(upload).
    type: str
    default: C:\CMG
requirements:
  - cryptography >= 45.0.0
attributes:
  check_mode:
    description: Builds and checks the PFX in memory and reports whether it would be written; writes nothing.
    support: full
  diff_mode:
    description: Shows the subject, thumbprint, chain and encryption of the PFX before and after.
    support: full
"""

EXAMPLES = r"""
- name: Build the PFX from the issued certificate and the key of cmg_cert_request
  configmgr.cmg.cmg_pfx:
    path: /secure/GraniteFalls.pfx
    password: "{{ vault_pfx_password }}"
    certificate: /secure/GraniteFalls.cer
    private_key: /secure/GraniteFalls.key
    private_key_passphrase: "{{ vault_key_passphrase }}"
    chain:
      - /etc/pki/contoso-issuing-ca.pem
    ca_bundle: /etc/pki/contoso-root.pem

- name: Re-package an old RC2 PFX with its intermediates, for an old console
  configmgr.cmg.cmg_pfx:
    source_pfx: /secure/old.pfx
    path: /secure/GraniteFalls-legacy.pfx
    password: "{{ vault_pfx_password }}"
    encryption: legacy
    chain:
      - /etc/pki/contoso-issuing-ca.pem
"""

RETURN = r"""
path:
  description: O(path) as given.
  returned: always
  type: str
pfx:
  description: The PFX, base64-encoded, when O(path) is not given (protected by O(password)).
  returned: success without O(path)
  type: str
valid:
  description: Whether the PFX passed the certificate validation.
  returned: always
  type: bool
validation:
  description: The result of the certificate validation (C(valid), C(findings), C(certificate), C(chain)), as
    M(configmgr.cmg.cmg_cert_validate) returns it.
  returned: always
  type: dict
subject:
  description: The certificate's subject (RFC 4514).
  returned: always
  type: str
common_name:
  description: The certificate's CN.
  returned: always
  type: str
thumbprint:
  description: The SHA-1 thumbprint as Windows shows it; the CMG shows this after the upload.
  returned: always
  type: str
chain:
  description: The subjects of the chain stored with the certificate, from its issuer up.
  returned: always
  type: list
  elements: str
friendly_name:
  description: The friendly name stored in the PFX.
  returned: always
  type: str
encryption:
  description: C(modern) or C(legacy).
  returned: always
  type: str
upload:
  description: How to put the PFX on the CMG (Configuration Manager 2006 and later).
  returned: when O(cmg_name) is given and the PFX is valid
  type: dict
  contains:
    copy_to:
      description: Where to copy the PFX on the console host.
      type: str
    powershell:
      description: The C(Set-CMCloudManagementGateway) command to run from the site drive; it prompts for the password.
      type: str
      sample: >-
        Set-CMCloudManagementGateway -Name "GraniteFalls.contoso.com" -ServiceCertPath "C:\CMG\GraniteFalls.pfx"
        -ServiceCertPassword (Read-Host -AsSecureString -Prompt "PFX password")
    thumbprint:
      description: The thumbprint the CMG shows once the new certificate is in place.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._module import diff_mode_only, run
from ansible_collections.configmgr.cmg.plugins.module_utils._pfx import PfxSpec, make_pfx

ARGUMENT_SPEC = {
    "path": {"type": "path"},
    "password": {"type": "str", "required": True, "no_log": True},
    "encryption": {"type": "str", "choices": ["modern", "legacy"], "default": "modern"},
    "certificate": {"type": "str"},
    "private_key": {"type": "str", "no_log": True},
    "private_key_passphrase": {"type": "str", "no_log": True},
    "chain": {"type": "list", "elements": "str", "default": []},
    "source_pfx": {"type": "path"},
    "source_password": {"type": "str", "no_log": True},
    "friendly_name": {"type": "str"},
    "service_name": {"type": "str"},
    "trust": {"type": "str", "default": "certifi"},
    "ca_bundle": {"type": "str"},
    "min_days_remaining": {"type": "int", "default": 30},
    "previous_certificate": {"type": "str"},
    "cmg_name": {"type": "str"},
    "windows_directory": {"type": "str", "default": "C:\\CMG"},
}


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("source_pfx", "certificate"), ("source_pfx", "private_key")],
                           required_one_of=[("source_pfx", "certificate")],
                           required_together=[("certificate", "private_key")])
    spec = PfxSpec(**{name: module.params[name] for name in ARGUMENT_SPEC})

    run(module, lambda: diff_mode_only(module, make_pfx(spec, check_mode=module.check_mode)))


if __name__ == "__main__":
    main()
