#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module configmgr.cmg.cmg_cert_request: the CMG private key and certificate signing request."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_cert_request
short_description: Create the private key and certificate signing request (CSR) of a CMG server certificate
version_added: 0.1.0
description:
  - Creates (or reuses) the RSA private key of a Configuration Manager cloud management gateway (CMG) server
    authentication certificate and a certificate signing request (CSR) for it.
  - The CSR's subject is exactly C(CN=<service name>), with the case kept as given (a renewal must keep the common
    name of the current certificate, case included); the service name is the DNS Subject Alternative Name; the Server
    Authentication EKU is requested; the signature is SHA-256.
  - The private key is only written or returned encrypted (PKCS#8, AES-256 with PBKDF2) with O(passphrase). A key file
    is written atomically with mode C(0600).
  - A CSR file that already asks for the same subject with the same key is not rewritten, so a second run changes
    nothing.
  - For an enterprise CA the result holds the Windows C(certreq) command lines for a web server template (see
    RV(certreq)); the C(docs/certificates.md) guide shows the round trip.
author:
  - configmgr.cmg contributors (@configmgr)
options:
  service_name:
    description:
      - The CMG service name, for example C(GraniteFalls.contoso.com). It becomes the CN and the DNS SAN as given,
        case included. A wildcard (C(*.contoso.com)) is allowed.
    type: str
    required: true
  key_size:
    description:
      - The RSA key size in bits; the CMG takes only these two.
      - An existing key of another size fails the task instead of being replaced.
    type: int
    choices: [2048, 4096]
    default: 2048
  passphrase:
    description:
      - The passphrase that encrypts the private key (PKCS#8). Not logged.
    type: str
    required: true
  private_key_path:
    description:
      - Where the encrypted private key lives. An existing key is reused; a missing one is created with mode C(0600).
      - Without it the key is not written; it is returned encrypted as RV(private_key) for the next task.
    type: path
  private_key_content:
    description:
      - An encrypted private key (PEM) from an earlier run, reused when O(private_key_path) is not given or does not
        exist. Not logged.
    type: str
  csr_path:
    description:
      - Where the CSR (PEM) is written. An existing CSR that asks for the same subject with the same key is kept.
      - Without it the CSR is only returned as RV(csr).
    type: path
  template:
    description:
      - The certificate template of the enterprise CA named in the C(certreq) command lines.
    type: str
    default: WebServer
  ca_config:
    description:
      - The enterprise CA as C(certreq -config) takes it, C(<CA host>\<CA name>). Without it C(certreq) asks.
    type: str
notes:
  - An existing key that is not encrypted, or that the passphrase does not open, fails the task; nothing is changed.
requirements:
  - cryptography >= 42.0.0
attributes:
  check_mode:
    description: Reports what would be created or rewritten; writes nothing.
    support: full
  diff_mode:
    description: Shows the CSR's subject, SANs and key fingerprint before and after (never the key).
    support: full
"""

EXAMPLES = r"""
- name: Key and CSR for an enterprise CA
  configmgr.cmg.cmg_cert_request:
    service_name: GraniteFalls.contoso.com
    passphrase: "{{ vault_key_passphrase }}"
    private_key_path: /secure/GraniteFalls.key
    csr_path: /secure/GraniteFalls.csr
    ca_config: 'ca01.contoso.com\Contoso Issuing CA'
  register: cmg_csr

- name: Show the certreq command to run on a Windows host of the domain
  ansible.builtin.debug:
    msg: "{{ cmg_csr.certreq.submit }}"

- name: A 4096-bit key kept in memory for the next task (for example cmg_cert_acme)
  configmgr.cmg.cmg_cert_request:
    service_name: GraniteFalls.contoso.com
    key_size: 4096
    passphrase: "{{ vault_key_passphrase }}"
  register: cmg_csr
"""

RETURN = r"""
csr:
  description: The CSR in PEM form.
  returned: success
  type: str
csr_path:
  description: O(csr_path) as given.
  returned: success
  type: str
private_key:
  description: The private key, encrypted with O(passphrase) (PKCS#8 PEM), when O(private_key_path) is not given.
  returned: success without O(private_key_path)
  type: str
private_key_path:
  description: O(private_key_path) as given.
  returned: success
  type: str
service_name:
  description: The service name, case kept.
  returned: success
  type: str
  sample: GraniteFalls.contoso.com
subject:
  description: The CSR's subject as an RFC 4514 string.
  returned: success
  type: str
  sample: CN=GraniteFalls.contoso.com
sans:
  description: The CSR's DNS Subject Alternative Names.
  returned: success
  type: list
  elements: str
key_size:
  description: The RSA key size.
  returned: success
  type: int
  sample: 2048
public_key_sha256:
  description: The SHA-256 of the public key (SubjectPublicKeyInfo), upper-case hex; names the key without revealing it.
  returned: success
  type: str
changes:
  description: What was (or in check mode would be) created or fixed, among C(private_key), C(private_key_mode) and C(csr).
  returned: success
  type: list
  elements: str
certreq:
  description: The Windows C(certreq) round trip for an enterprise CA.
  returned: success
  type: dict
  contains:
    submit:
      description: Submits this CSR to the CA with O(template) and writes the certificate (C(.cer)).
      type: str
      sample: certreq -submit -attrib "CertificateTemplate:WebServer" "GraniteFalls.csr" "GraniteFalls.cer"
    inf:
      description: A C(certreq -new) policy file for the same request, for a key made on Windows instead.
      type: str
    new:
      description: The C(certreq -new) command for that policy file.
      type: str
    accept:
      description: The C(certreq -accept) command that installs the certificate where the C(-new) key lives.
      type: str
    template:
      description: O(template).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._cert_request import RequestSpec, request
from ansible_collections.configmgr.cmg.plugins.module_utils._module import diff_mode_only, run

ARGUMENT_SPEC = {
    "service_name": {"type": "str", "required": True},
    "key_size": {"type": "int", "choices": [2048, 4096], "default": 2048},
    "passphrase": {"type": "str", "required": True, "no_log": True},
    "private_key_path": {"type": "path"},
    "private_key_content": {"type": "str", "no_log": True},
    "csr_path": {"type": "path"},
    "template": {"type": "str", "default": "WebServer"},
    "ca_config": {"type": "str"},
}


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    spec = RequestSpec(service_name=params["service_name"], passphrase=params["passphrase"], key_size=params["key_size"],
                       private_key_path=params["private_key_path"], private_key_content=params["private_key_content"],
                       csr_path=params["csr_path"], template=params["template"], ca_config=params["ca_config"])

    run(module, lambda: diff_mode_only(module, request(spec, check_mode=module.check_mode)))


if __name__ == "__main__":
    main()
