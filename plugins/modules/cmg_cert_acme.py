#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module configmgr.cmg.cmg_cert_acme: the CMG certificate from an ACME CA with DNS-01."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_cert_acme
short_description: Obtain or renew the CMG server certificate from an ACME CA with a DNS-01 challenge
version_added: 0.1.0
description:
  - Orders the certificate for a CSR (from M(configmgr.cmg.cmg_cert_request)) from any ACME (RFC 8555) CA, such as
    Let's Encrypt, DigiCert or Sectigo, and answers the CA's DNS-01 challenge with the TXT record
    C(_acme-challenge.<service name>).
  - The TXT record is written through the collection's DNS providers - in Azure DNS (O(provider=azure_dns), the
    default, as M(configmgr.cmg.cmg_cname)) or with an RFC 2136 dynamic update signed with TSIG or GSS-TSIG
    (O(provider=rfc2136)) - as exactly the challenge's values, with conditional writes. It is waited for at the zone's
    authoritative name servers and removed afterwards (only the values this task wrote), also when the order fails.
  - The certificate at O(certificate_path) is kept, and the CA is not contacted, while it is for the CSR's key and
    names and has more than O(remaining_days) days left; a scheduled run then changes nothing.
  - The account key is created at O(account_key_path) when missing (mode C(0600)) and reused afterwards. The CA's
    terms of service are agreed only with O(terms_agreed=true). External Account Binding (O(eab_kid),
    O(eab_hmac_key)) is how commercial CAs hand out ACME accounts.
  - C(badNonce) answers are retried with the fresh nonce of the error response, as RFC 8555 section 6.5 says.
  - Uses the C(acme) Python package of the Let's Encrypt project for the protocol.
author:
  - configmgr.cmg contributors (@configmgr)
extends_documentation_fragment:
  - configmgr.cmg._dns
  - configmgr.cmg._azure
options:
  directory_url:
    description:
      - The ACME directory of the CA, for example Let's Encrypt's staging
        C(https://acme-staging-v02.api.letsencrypt.org/directory) or production
        C(https://acme-v02.api.letsencrypt.org/directory).
    type: str
    required: true
  validate_certs:
    description:
      - Check the TLS certificate of the CA's server. Turn off only for a test CA.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of the roots that the CA's server certificate chains to, instead of the host's trust store.
    type: path
  timeout:
    description:
      - Seconds the CA may take to validate the challenge and issue the certificate.
    type: int
    default: 300
  account_key_path:
    description:
      - The ACME account's private key (RSA). Created when missing, with mode C(0600); encrypted when
        O(account_key_passphrase) is given.
    type: path
  account_key_content:
    description:
      - The account key as PEM text instead of O(account_key_path). Not logged.
    type: str
  account_key_passphrase:
    description:
      - The passphrase of an encrypted account key. Not logged.
    type: str
  account_email:
    description:
      - The contact e-mail address of a new account (the CA writes to it before a certificate expires).
    type: str
  terms_agreed:
    description:
      - Agree to the CA's terms of service. A CA that has terms refuses a new account without it; the task fails and
        names the terms.
    type: bool
    default: false
  eab_kid:
    description:
      - External Account Binding - the key identifier from the CA's ACME account page.
    type: str
  eab_hmac_key:
    description:
      - External Account Binding - the base64url MAC key from the CA's ACME account page. Not logged.
    type: str
  eab_alg:
    description:
      - External Account Binding - the MAC algorithm.
    type: str
    choices: [HS256, HS384, HS512]
    default: HS256
  csr_path:
    description:
      - The CSR (PEM) to order the certificate for. Exactly one of O(csr_path) and O(csr_content) is required.
    type: path
  csr_content:
    description:
      - The CSR as PEM text, for example RV(configmgr.cmg.cmg_cert_request#module:csr).
    type: str
  certificate_path:
    description:
      - Where the certificate (PEM) is written, and where the current one is looked for.
    type: path
  chain_path:
    description:
      - Where the CA's chain (PEM, without the certificate) is written.
    type: path
  fullchain_path:
    description:
      - Where the certificate followed by the chain (PEM) is written.
    type: path
  remaining_days:
    description:
      - Renew when the certificate at O(certificate_path) has this many days left or fewer.
    type: int
    default: 30
  current_certificate:
    description:
      - The certificate in service (PFX, PEM or DER), for example the PFX the CMG uses now. While it has more than
        O(remaining_days) days left no certificate is ordered, even without one at O(certificate_path).
      - Its CN must be the CSR's CN, case included (the console refuses a renewal with another CN); a missing file is
        ignored.
    type: path
  current_password:
    description:
      - The password of O(current_certificate) when it is a PFX. Not logged.
    type: str
  zone:
    description:
      - The DNS zone of the TXT record.
      - Default with O(provider=azure_dns) - the longest Azure DNS zone of the subscription (or of O(resource_group))
        that contains the record's name.
      - Default with O(provider=rfc2136) - found by asking O(server) for the SOA of the record's name and each of its
        parent domains.
    type: str
  ttl:
    description:
      - The TTL of the TXT record, in seconds (1 to 86400).
    type: int
    default: 60
  nameservers:
    description:
      - The servers to wait at until they answer the TXT record, each V(host) or V(host:port).
      - Default - the zone's authoritative name servers (for Azure DNS the zone's name servers, for RFC 2136 its NS
        records, queried on O(port)).
    type: list
    elements: str
  wait_timeout:
    description:
      - Seconds to wait until the name servers answer the TXT record.
    type: int
    default: 120
  wait_interval:
    description:
      - Seconds between two checks of the name servers.
    type: float
    default: 2.0
requirements:
  - acme >= 2.0.0
  - josepy >= 1.13.0
  - cryptography >= 42.0.0
  - dnspython >= 2.6.0
  - azure-identity and azure-mgmt-core for O(provider=azure_dns)
notes:
  - "Azure permissions for O(provider=azure_dns): C(Microsoft.Network/dnsZones/read),
    C(Microsoft.Network/dnsZones/TXT/write) and C(Microsoft.Network/dnsZones/TXT/delete) (the built-in DNS Zone
    Contributor role has them)."
attributes:
  check_mode:
    description: Reports whether a certificate would be ordered, and why; contacts neither the CA nor the DNS server or Azure.
    support: full
  diff_mode:
    description: Shows the subject, thumbprint and expiry of the certificate before and after.
    support: full
"""

EXAMPLES = r"""
- name: Key and CSR for the CMG service name
  configmgr.cmg.cmg_cert_request:
    service_name: GraniteFalls.contoso.com
    passphrase: "{{ vault_key_passphrase }}"
    private_key_path: /secure/GraniteFalls.key
    csr_path: /secure/GraniteFalls.csr

- name: Certificate from Let's Encrypt staging, DNS-01 in Azure DNS (credentials from AWX's AZURE_* variables)
  configmgr.cmg.cmg_cert_acme:
    directory_url: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_path: /secure/acme-account.key
    account_email: pki@contoso.com
    terms_agreed: true
    csr_path: /secure/GraniteFalls.csr
    certificate_path: /secure/GraniteFalls.crt
    chain_path: /secure/GraniteFalls-chain.crt
    resource_group: rg-dns
  register: cmg_acme

- name: Certificate from Let's Encrypt staging, DNS-01 over RFC 2136
  configmgr.cmg.cmg_cert_acme:
    provider: rfc2136
    directory_url: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_path: /secure/acme-account.key
    account_email: pki@contoso.com
    terms_agreed: true
    csr_path: /secure/GraniteFalls.csr
    certificate_path: /secure/GraniteFalls.crt
    chain_path: /secure/GraniteFalls-chain.crt
    server: ns1.contoso.com
    key_name: acme-update
    key_secret: "{{ vault_tsig_secret }}"

- name: A commercial CA with External Account Binding
  configmgr.cmg.cmg_cert_acme:
    directory_url: https://acme.digicert.com/v2/acme/directory/
    account_key_path: /secure/digicert-account.key
    terms_agreed: true
    eab_kid: "{{ vault_eab_kid }}"
    eab_hmac_key: "{{ vault_eab_hmac_key }}"
    csr_path: /secure/GraniteFalls.csr
    certificate_path: /secure/GraniteFalls.crt
    provider: rfc2136
    server: ns1.contoso.com
    key_name: acme-update
    key_secret: "{{ vault_tsig_secret }}"

- name: Windows DNS (Active Directory-integrated zone, secure updates only) with GSS-TSIG
  configmgr.cmg.cmg_cert_acme:
    directory_url: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_path: /secure/acme-account.key
    terms_agreed: true
    csr_path: /secure/GraniteFalls.csr
    certificate_path: /secure/GraniteFalls.crt
    provider: rfc2136
    server: dc01.contoso.com
    key_algorithm: gss-tsig
    keytab: /secure/svc-cmg-dns.keytab
    principal: svc-cmg-dns@CONTOSO.COM
"""

RETURN = r"""
renewal_reason:
  description: Why a certificate was (or in check mode would be) ordered; empty when the current one was kept.
  returned: always
  type: str
  sample: 12 days left, renewal is due at 30
certificate_ready:
  description: Whether O(certificate_path) holds a certificate for the CSR that does not need renewal (issued now or
    kept); the next step (M(configmgr.cmg.cmg_pfx)) can use it.
  returned: always
  type: bool
certificate:
  description: The issued certificate (PEM).
  returned: when a certificate was issued
  type: str
chain:
  description: The CA's chain, one PEM certificate per element, from the issuer up.
  returned: when a certificate was issued
  type: list
  elements: str
fullchain:
  description: The certificate followed by the chain (PEM).
  returned: when a certificate was issued
  type: str
certificate_path:
  description: O(certificate_path) as given.
  returned: always
  type: str
chain_path:
  description: O(chain_path) as given.
  returned: always
  type: str
fullchain_path:
  description: O(fullchain_path) as given.
  returned: always
  type: str
subject:
  description: The certificate's subject (RFC 4514).
  returned: when a certificate was issued or kept
  type: str
  sample: CN=GraniteFalls.contoso.com
sans:
  description: The certificate's DNS names.
  returned: when a certificate was issued or kept
  type: list
  elements: str
thumbprint:
  description: The SHA-1 thumbprint as Windows shows it.
  returned: when a certificate was issued or kept
  type: str
not_after:
  description: End of validity, ISO 8601 UTC.
  returned: when a certificate was issued or kept
  type: str
days_remaining:
  description: Whole days of validity left.
  returned: when a certificate was issued or kept
  type: int
public_key_sha256:
  description: The SHA-256 of the certificate's public key (it equals RV(configmgr.cmg.cmg_cert_request#module:public_key_sha256)).
  returned: when a certificate was issued or kept
  type: str
account_uri:
  description: The ACME account's URL.
  returned: when a certificate was issued
  type: str
account_created:
  description: Whether the account key was created by this run.
  returned: when a certificate was issued
  type: bool
order_uri:
  description: The ACME order's URL.
  returned: when a certificate was issued
  type: str
challenge_records:
  description: The TXT records written for DNS-01 (and removed again), each with C(fqdn) and C(values).
  returned: when a certificate was issued
  type: list
  elements: dict
auth_source_used:
  description: Where the Azure credentials came from (O(provider=azure_dns) only).
  returned: when a certificate was issued with O(provider=azure_dns)
  type: str
  sample: env
bad_nonce_retries:
  description: How many C(badNonce) answers of the CA were retried.
  returned: when a certificate was issued
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._acme_certificate import run_acme
from ansible_collections.configmgr.cmg.plugins.module_utils._azure_settings import azure_argument_spec
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_providers import provider_argument_spec, provider_rules
from ansible_collections.configmgr.cmg.plugins.module_utils._module import diff_mode_only, run

#: The ACME and DNS-01 options; the DNS provider options and the Azure options are added by argument_spec().
ACME_OPTIONS = {
    "directory_url": {"type": "str", "required": True},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "timeout": {"type": "int", "default": 300},
    "account_key_path": {"type": "path", "no_log": False},
    "account_key_content": {"type": "str", "no_log": True},
    "account_key_passphrase": {"type": "str", "no_log": True},
    "account_email": {"type": "str"},
    "terms_agreed": {"type": "bool", "default": False},
    "eab_kid": {"type": "str", "no_log": False},
    "eab_hmac_key": {"type": "str", "no_log": True},
    "eab_alg": {"type": "str", "choices": ["HS256", "HS384", "HS512"], "default": "HS256"},
    "csr_path": {"type": "path"},
    "csr_content": {"type": "str"},
    "certificate_path": {"type": "path"},
    "chain_path": {"type": "path"},
    "fullchain_path": {"type": "path"},
    "remaining_days": {"type": "int", "default": 30},
    "current_certificate": {"type": "path"},
    "current_password": {"type": "str", "no_log": True},
    "zone": {"type": "str"},
    "ttl": {"type": "int", "default": 60},
    "nameservers": {"type": "list", "elements": "str"},
    "wait_timeout": {"type": "int", "default": 120},
    "wait_interval": {"type": "float", "default": 2.0},
}


def argument_spec() -> dict:
    """The module's options, the registered DNS providers' options (as cmg_cname) and the shared Azure options."""
    spec = azure_argument_spec()
    spec.update(provider_argument_spec())
    spec.update(ACME_OPTIONS)
    return spec


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("csr_path", "csr_content"), ("account_key_path", "account_key_content")],
                           required_one_of=[("csr_path", "csr_content"), ("account_key_path", "account_key_content")],
                           required_together=[("eab_kid", "eab_hmac_key")], **provider_rules())

    run(module, lambda: diff_mode_only(module, run_acme(module.params, check_mode=module.check_mode)))


if __name__ == "__main__":
    main()
