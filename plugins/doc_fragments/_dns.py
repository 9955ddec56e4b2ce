# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the DNS provider options, shared by every module that writes DNS records.

The options themselves come from the provider registry (``_dns_providers.provider_argument_spec``);
a new provider documents its options here once, for every module.
"""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """``extends_documentation_fragment: configmgr.cmg._dns``."""

    DOCUMENTATION = r"""
options:
  provider:
    description:
      - Where the zone lives - V(azure_dns) (with the Azure access options) or V(rfc2136) (O(server) and a TSIG key or
        GSS-TSIG).
    type: str
    choices: [azure_dns, rfc2136]
    default: azure_dns
  resource_group:
    description:
      - O(provider=azure_dns) - the resource group of the Azure DNS zone. Needed only when zones of the same name exist in several resource
        groups; it also narrows the zone search.
    type: str
  server:
    description:
      - O(provider=rfc2136) - the primary name server that takes dynamic updates, a host name or an IP address.
    type: str
  port:
    description:
      - O(provider=rfc2136) - the port of O(server), 1 to 65535. The zone's own name servers are queried on this port too
        when waiting for propagation without O(nameservers).
    type: int
    default: 53
  key_name:
    description:
      - O(provider=rfc2136) - the name of the TSIG key that signs the updates. Without it updates are unsigned.
    type: str
  key_secret:
    description:
      - O(provider=rfc2136) - the TSIG key's secret, base64 encoded as in a BIND C(key) statement. Not logged.
    type: str
  key_algorithm:
    description:
      - O(provider=rfc2136) - the TSIG algorithm.
      - V(gss-tsig) signs with Kerberos (GSS-TSIG, RFC 3645), as Windows DNS requires for Active Directory-integrated
        zones that accept secure dynamic updates only; the credentials come from O(keytab) and O(principal), or from
        the Kerberos credential cache (C(KRB5CCNAME)) of the user that runs the task. Needs the Python package
        C(gssapi). O(key_name) and O(key_secret) are not used with it.
    type: str
    choices: [hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5, gss-tsig]
    default: hmac-sha256
  keytab:
    description:
      - O(provider=rfc2136) with O(key_algorithm=gss-tsig) - a Kerberos keytab that holds the key of O(principal)
        (for Windows DNS, exported with C(ktpass) for the service account that may update the zone).
      - Without it the ticket of O(principal) (or the default principal) must already be in the credential cache.
    type: path
  principal:
    description:
      - O(provider=rfc2136) with O(key_algorithm=gss-tsig) - the Kerberos principal that signs the updates, for example
        V(svc-cmg-dns@CONTOSO.COM). Default - the first principal of O(keytab), or the credential cache's.
    type: str
  protocol:
    description:
      - O(provider=rfc2136) - the transport of queries and updates.
    type: str
    choices: [tcp, udp]
    default: tcp
"""
