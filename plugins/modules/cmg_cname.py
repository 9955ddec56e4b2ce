#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create the CMG service-name CNAME in Azure DNS or on an RFC 2136 server, and wait until it resolves."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_cname
short_description: Point the CMG service name at its deployment name with a CNAME, idempotently and safely
version_added: 0.1.0
description:
  - Makes C(<service name> CNAME <deployment name>) true in the organisation's public DNS zone, in Azure DNS
    (O(provider=azure_dns), the default) or on a DNS server that takes RFC 2136 dynamic updates signed with TSIG
    (O(provider=rfc2136), for example BIND with TSIG keys), then queries the zone's authoritative name servers
    directly until each answers the new CNAME.
  - It reads first and writes only when something differs; every write is conditional on what was read
    (Azure DNS C(If-None-Match) and C(If-Match) with the record set's etag, RFC 2136 prerequisites), so a
    concurrent change is never overwritten. When a write loses such a race the record is read again and the
    decision made once more; a second lost race fails.
  - It never deletes or overwrites a record it was not asked to - another CNAME target needs O(on_conflict=replace),
    and other record types at the name (A, TXT, ...) always fail the task, naming them.
  - Names compare case-insensitively and without trailing dots. A CNAME cannot stand at a zone apex; such a name is refused.
author:
  - configmgr.cmg contributors (@configmgr)
extends_documentation_fragment:
  - configmgr.cmg._dns
  - configmgr.cmg._azure
options:
  service_name:
    description:
      - The CMG service name, the fully qualified name in the server authentication certificate, for example
        V(GraniteFalls.contoso.com).
    type: str
    required: true
  target:
    description:
      - The CNAME target, the CMG deployment name, for example V(granitefalls.westus.cloudapp.azure.com).
      - Mutually exclusive with O(region). With O(state=present) one of them is required.
    type: str
  region:
    description:
      - The Azure region of the CMG; the target is derived with the naming rules as
        C(<prefix>.<region>.cloudapp.azure.com) (C(cloudapp.usgovcloudapi.net) in Azure US Government).
      - The cloud is the one of O(cloud_environment); with O(provider=rfc2136) it falls back to
        E(AZURE_CLOUD_ENVIRONMENT), and a Resource Manager URL names the target like V(AzureCloud).
    type: str
  zone:
    description:
      - The DNS zone that holds the name.
      - Default with O(provider=azure_dns) - the longest Azure DNS zone of the subscription (or of O(resource_group))
        that contains O(service_name).
      - Default with O(provider=rfc2136) - found by asking O(server) for the SOA of O(service_name) and each of its
        parent domains.
    type: str
  ttl:
    description:
      - The time to live of the CNAME in seconds.
    type: int
    default: 3600
  state:
    description:
      - V(present) creates or updates the CNAME.
      - V(absent) deletes it, but only when it points at the wanted target (O(target) or O(region)) or when
        O(on_conflict=replace); a name without a CNAME is already absent.
    type: str
    choices: [present, absent]
    default: present
  metadata:
    description:
      - Azure DNS only. Merged into the record set's metadata (keys not given are kept). The module also stamps
        C(managed-by=configmgr.cmg.cmg_cname) so that ownership is visible in the portal.
    type: dict
    default: {}
  on_conflict:
    description:
      - What to do when the name already has a CNAME pointing elsewhere.
      - V(fail) changes nothing and the message shows the current and the wanted target.
      - V(replace) points the CNAME at the wanted target (with O(state=absent), deletes it whatever its target).
      - Other record types at the name always fail the task; they are never deleted.
    type: str
    choices: [fail, replace]
    default: fail
  wait:
    description:
      - Query the zone's authoritative name servers directly (no recursive resolver, no cache) until each answers
        the CNAME with the wanted target (or, with O(state=absent), no CNAME).
      - The servers are the zone's NS records (Azure DNS lists them on the zone), or O(nameservers).
      - Not done in check mode.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for propagation before failing with what each server still answers (0 to 86400;
        V(0) asks each server once).
    type: int
    default: 300
  nameservers:
    description:
      - The servers to query for propagation instead of the zone's NS records, each V(host) or V(host:port).
    type: list
    elements: str
  resolvers:
    description:
      - Recursive resolvers to ask after the authoritative servers agree, each V(host) or V(host:port), for example
        V(1.1.1.1) and V(8.8.8.8) for public resolution, or the internal DNS servers clients use.
      - Each must answer the CNAME with the wanted target (with O(state=absent), no CNAME) within O(wait_timeout);
        otherwise the task fails and says which resolver still holds an old answer and for how long it may keep it
        (the old record's TTL, or for a cached "no such name" the zone's SOA minimum, RFC 2308 negative caching).
      - Only with O(wait=true), and not in check mode. Default - none.
    type: list
    elements: str
    default: []
notes:
  - Check mode reads the record and reports what would change, and writes nothing.
  - Diff mode shows the record set before and after.
  - Requires C(dnspython) for O(provider=rfc2136) and for O(wait); C(azure-identity) and C(azure-mgmt-core) for
    O(provider=azure_dns) (its requests are plain Resource Manager requests, DNS api-version 2018-05-01).
  - "Azure permissions: C(Microsoft.Network/dnsZones/read), C(Microsoft.Network/dnsZones/CNAME/write) and, for
    O(state=absent), C(Microsoft.Network/dnsZones/CNAME/delete) (the built-in DNS Zone Contributor role has them)."
requirements:
  - dnspython
  - azure-mgmt-core (for O(provider=azure_dns))
seealso:
  - module: configmgr.cmg.cmg_name_available
attributes:
  check_mode:
    description: Reads the record and reports what would change; writes nothing and does not wait for propagation.
    support: full
  diff_mode:
    description: Returns the record set before and after in C(diff).
    support: full
"""

EXAMPLES = r"""
- name: Create the service-name CNAME in Azure DNS (credentials from AWX's Azure credential / AZURE_* variables)
  configmgr.cmg.cmg_cname:
    service_name: GraniteFalls.contoso.com
    region: westus
    metadata:
      change: CHG0042
  register: cname

- name: Use an explicit zone and target, and replace a CNAME that points elsewhere
  configmgr.cmg.cmg_cname:
    service_name: GraniteFalls.contoso.com
    target: granitefalls.westus.cloudapp.azure.com
    zone: contoso.com
    resource_group: rg-dns
    ttl: 300
    on_conflict: replace
    subscription_id: "{{ azure_subscription_id }}"

- name: Create the CNAME on a BIND primary with a TSIG-signed dynamic update
  configmgr.cmg.cmg_cname:
    provider: rfc2136
    service_name: GraniteFalls.contoso.com
    target: granitefalls.westus.cloudapp.azure.com
    server: ns1.contoso.com
    key_name: cmg-update
    key_secret: "{{ vault_tsig_secret }}"
    wait_timeout: 120

- name: Check propagation against specific servers only
  configmgr.cmg.cmg_cname:
    provider: rfc2136
    service_name: GraniteFalls.contoso.com
    target: granitefalls.westus.cloudapp.azure.com
    server: 192.0.2.53
    key_name: cmg-update
    key_secret: "{{ vault_tsig_secret }}"
    nameservers:
      - 192.0.2.53
      - ns2.contoso.com:5353

- name: Remove the CNAME when the CMG is retired (only if it still points at the CMG)
  configmgr.cmg.cmg_cname:
    service_name: GraniteFalls.contoso.com
    target: granitefalls.westus.cloudapp.azure.com
    state: absent
"""

RETURN = r"""
record:
  description: The CNAME after the task (C(target) and C(ttl) are null when it is absent).
  returned: success
  type: dict
  contains:
    fqdn:
      description: The name of the record, lower case, without a trailing dot.
      type: str
      sample: granitefalls.contoso.com
    target:
      description: The CNAME target.
      type: str
      sample: granitefalls.westus.cloudapp.azure.com
    ttl:
      description: The time to live in seconds.
      type: int
      sample: 3600
    etag:
      description: The Azure DNS record set etag (null for O(provider=rfc2136)).
      type: str
      sample: 3a4f3c1e-0c79-4f6a-9a0e-0e1c7f6f3c11
    zone:
      description: The zone that holds the record.
      type: str
      sample: contoso.com
    provider:
      description: V(azure_dns) or V(rfc2136).
      type: str
      sample: azure_dns
diff:
  description: The record set before and after (an empty dict when there is none).
  returned: success
  type: dict
  sample: {"before": {}, "after": {"fqdn": "granitefalls.contoso.com", "type": "CNAME",
           "target": "granitefalls.westus.cloudapp.azure.com", "ttl": 3600}}
propagation:
  description: What each authoritative name server answered (empty when O(wait=false) or in check mode).
  returned: success, and on a propagation timeout
  type: list
  elements: dict
  contains:
    server:
      description: The server, as C(name (address)) or C(address:port).
      type: str
    answer:
      description: The CNAME target it answered, or C(NXDOMAIN), C(no CNAME), C(REFUSED), C(no answer (timeout)).
      type: str
    ok:
      description: Whether the answer is the wanted one.
      type: bool
  sample: [{"server": "ns1-01.azure-dns.com (150.171.10.1)", "answer": "granitefalls.westus.cloudapp.azure.com", "ok": true}]
propagation_skip_reason:
  description: Why the propagation wait did not run (null when it ran) - V(wait is false), check mode, or the zone's
    name servers could not be found after the record was written.
  returned: always, and on failures after a write
  type: str
  sample: wait is false
resolution:
  description: What each recursive resolver of O(resolvers) answered (empty without O(resolvers)).
  returned: success, and on a resolver timeout
  type: list
  elements: dict
  contains:
    resolver:
      description: The resolver, as C(address) or C(address:port).
      type: str
    answer:
      description: The CNAME target it answered, or C(NXDOMAIN), C(no CNAME), C(SERVFAIL), C(no answer (timeout)).
      type: str
    ok:
      description: Whether the answer is the wanted one.
      type: bool
    cached_for:
      description: For a resolver that still holds an old answer, the seconds it may keep it (its TTL); else null.
      type: int
    negative:
      description: Whether the old answer is a cached "no such name" or "no CNAME" (negative caching, the SOA minimum).
      type: bool
  sample: [{"resolver": "1.1.1.1", "answer": "NXDOMAIN", "ok": false, "cached_for": 3600, "negative": true}]
auth_source_used:
  description: Where the Azure credentials came from (O(provider=azure_dns) only).
  returned: success with O(provider=azure_dns)
  type: str
  sample: env
current_target:
  description: The target the existing CNAME points at, when the task refused to change it.
  returned: failure because of a conflict
  type: str
other_records:
  description: The other record types at the name that block the CNAME.
  returned: failure because of other records
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._azure_settings import azure_argument_spec
from ansible_collections.configmgr.cmg.plugins.module_utils._cname import ON_CONFLICT, STATES, run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_providers import provider_argument_spec, provider_rules
from ansible_collections.configmgr.cmg.plugins.module_utils._module import run


def argument_spec() -> dict:
    """The module's options, the registered DNS providers' options and the shared Azure options.

    The secrets come with ``no_log`` set where they are declared: ``key_secret`` in the DNS provider registry and
    ``secret`` in the Azure options (tests/unit/plugins/modules assert it).
    """
    spec = azure_argument_spec()
    spec.update(provider_argument_spec())
    spec.update(
        service_name={"type": "str", "required": True},
        target={"type": "str"},
        region={"type": "str"},
        zone={"type": "str"},
        ttl={"type": "int", "default": 3600},
        state={"type": "str", "choices": list(STATES), "default": "present"},
        metadata={"type": "dict", "default": {}},
        on_conflict={"type": "str", "choices": list(ON_CONFLICT), "default": "fail"},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 300},
        nameservers={"type": "list", "elements": "str"},
        resolvers={"type": "list", "elements": "str", "default": []},
    )
    return spec


def main() -> None:
    """Entry point."""
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("target", "region")],
        supports_check_mode=True,
        **provider_rules(),
    )
    run(module, lambda: run_cname(module.params, check_mode=module.check_mode))


if __name__ == "__main__":
    main()
