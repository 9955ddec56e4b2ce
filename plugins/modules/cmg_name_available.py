#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell whether the Azure names of a CMG (DNS label, Key Vault, storage account) are free."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_name_available
short_description: Tell whether the Azure names of a cloud management gateway are free
version_added: 0.1.0
description:
  - A CMG needs its prefix free as a public IP DNS label in its region (C(<prefix>.<region>.cloudapp.azure.com)),
    as a Key Vault name and, for a content-enabled CMG, as a storage account name. This module checks them.
  - With O(method=arm) (the default) it asks Azure Resource Manager's three name checks, concurrently. When a name is
    taken it searches the subscription for its own public IP with that label in that region, its own key vault and
    its own storage account - such a name is C(owned) and counts as usable, so that a re-run after the CMG exists
    stays green. A Key Vault name held by a soft-deleted vault of the subscription is C(soft_deleted), with the purge
    and recover commands in the message.
  - With O(resource_group), only a resource in the CMG's resource group makes a name C(owned); this subscription's
    resource of the same name in another group makes it C(taken), with that resource's id in the message. Without
    O(resource_group) a resource in any group of the subscription counts (RV(ownership_scope) says so).
  - With O(method=dns) it needs no credential - it resolves C(<label>.<region>.cloudapp.azure.com),
    C(<name>.vault.azure.net) and C(<name>.blob.core.windows.net) (per cloud) and calls a name free on NXDOMAIN.
    This is a heuristic and the result says so.
  - Names that break Azure's naming rules are reported as C(invalid) without asking Azure.
  - Read-only - C(changed) is always false. A name that is not available does not fail the task; test
    RV(available).
author:
  - configmgr.cmg contributors (@configmgr)
extends_documentation_fragment:
  - configmgr.cmg._azure
options:
  service_name:
    description:
      - The CMG service name, the name in the server authentication certificate, for example
        V(GraniteFalls.contoso.com). A wildcard name such as V(*.contoso.com) needs O(prefix).
      - One of O(service_name) and O(prefix) is required.
    type: str
  prefix:
    description:
      - The CMG prefix, the first label of the service name (V(GraniteFalls)). Chosen for a wildcard certificate,
        or given alone instead of O(service_name).
    type: str
  region:
    description:
      - The Azure region of the CMG, for example V(westus). Required for the C(dns_label) check.
    type: str
  content_enabled:
    description:
      - Whether the CMG will hold content; then the storage account name is checked by default.
    type: bool
    default: false
  checks:
    description:
      - The checks to run. Default - C(dns_label) and C(key_vault), plus C(storage_account) when
        O(content_enabled=true).
    type: list
    elements: str
    choices: [dns_label, key_vault, storage_account]
  method:
    description:
      - V(arm) asks Azure Resource Manager (needs a credential with the permissions in C(docs/permissions.md)).
      - V(dns) probes public DNS with dnspython - no credential, but only a heuristic.
      - With O(method=dns) the cloud whose names are probed is O(cloud_environment), else
        E(AZURE_CLOUD_ENVIRONMENT); a Resource Manager URL probes AzureCloud's names (no metadata is read).
    type: str
    choices: [arm, dns]
    default: arm
  resource_group:
    description:
      - The resource group the CMG deploys into. Only a resource in this group counts as the CMG's own (C(owned)).
      - Without it, a resource of the name anywhere in the subscription counts as owned.
    type: str
  nameservers:
    description:
      - With O(method=dns), the resolvers to ask, each V(host) or V(host:port) (V([v6]:port) for IPv6). Default - the
        system resolvers.
    type: list
    elements: str
notes:
  - "Azure permissions for O(method=arm): C(Microsoft.Network/locations/checkDnsNameAvailability/read),
    C(Microsoft.KeyVault/checkNameAvailability/read), C(Microsoft.Storage/checknameavailability/read) and, to find the
    subscription's own resources, read access to public IP addresses, key vaults, deleted key vaults and storage
    accounts (the built-in Reader role has them all)."
requirements:
  - azure-mgmt-core (the three name checks)
  - azure-mgmt-network
  - azure-mgmt-keyvault
  - azure-mgmt-storage
  - dnspython (for O(method=dns))
seealso:
  - module: configmgr.cmg.cmg_cname
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Check the CMG names (credentials from AWX's Azure credential / AZURE_* variables)
  configmgr.cmg.cmg_name_available:
    service_name: GraniteFalls.contoso.com
    region: westus
    content_enabled: true
  register: names

- name: Stop when a name is taken by someone else
  ansible.builtin.assert:
    that: names.available
    fail_msg: "{{ names.msg }}"

- name: Wildcard certificate, explicit service principal, US Government cloud
  configmgr.cmg.cmg_name_available:
    service_name: "*.contoso.com"
    prefix: GraniteFalls
    region: usgovvirginia
    cloud_environment: AzureUSGovernment
    client_id: "{{ sp_client_id }}"
    secret: "{{ sp_secret }}"
    tenant: "{{ sp_tenant }}"
    subscription_id: "{{ subscription_id }}"

- name: Quick credential-free probe through chosen resolvers (a heuristic)
  configmgr.cmg.cmg_name_available:
    prefix: GraniteFalls
    region: westus
    method: dns
    nameservers:
      - 192.0.2.53
      - "resolver.contoso.com:5353"
"""

RETURN = r"""
available:
  description: Whether every checked name is C(available) or C(owned).
  returned: success
  type: bool
  sample: true
resources:
  description:
    - One entry per check (C(dns_label), C(key_vault), C(storage_account)).
    - C(status) is C(available), C(owned) (taken by this subscription's own resource, usable), C(soft_deleted) (Key
      Vault name held by a soft-deleted vault of this subscription), C(taken) or C(invalid).
  returned: success
  type: dict
  sample:
    dns_label:
      name: granitefalls
      status: available
      reason: null
      message: granitefalls.westus.cloudapp.azure.com is free
      resource_id: null
    key_vault:
      name: granitefalls
      status: soft_deleted
      reason: AlreadyExists
      message: "the Key Vault name 'granitefalls' is held by a soft-deleted vault of this subscription (deleted
        2026-11-01 10:00:00+00:00): purge it (az keyvault purge --name granitefalls --location westus) or recover
        it (az keyvault recover --name granitefalls --location westus)"
      resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.KeyVault/locations/westus/deletedVaults/granitefalls
names:
  description: The CMG names derived from the service name (see the C(configmgr.cmg.cmg_names) filter).
  returned: success
  type: dict
  sample:
    service_name: GraniteFalls.contoso.com
    prefix: GraniteFalls
    dns_label: granitefalls
    deployment_name: granitefalls.westus.cloudapp.azure.com
    key_vault_name: granitefalls
    storage_account_name: granitefalls
    region: westus
    cloud_environment: AzureCloud
method:
  description: The method used, C(arm) or C(dns).
  returned: success
  type: str
  sample: arm
auth_source_used:
  description: The credential source used with O(method=arm) (C(options), C(env), C(credential_file), C(cli), C(msi)); null with
    O(method=dns).
  returned: success
  type: str
  sample: env
resource_group:
  description: The O(resource_group) the names were checked against, or null.
  returned: success
  type: str
  sample: rg-cmg
ownership_scope:
  description:
    - Where a resource of the subscription makes a name C(owned) - C(resource group <name>) with O(resource_group), else a
      sentence saying that any resource group of the subscription counts. Null with O(method=dns).
  returned: success
  type: str
  sample: resource group rg-cmg
heuristic:
  description: True with O(method=dns), whose answers are a heuristic.
  returned: when O(method=dns)
  type: bool
  sample: true
note:
  description: What the DNS probe can and cannot tell.
  returned: when O(method=dns)
  type: str
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: "CMG names not available: key_vault 'granitefalls' is taken"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._availability import CHECKS, name_availability
from ansible_collections.configmgr.cmg.plugins.module_utils._azure import azure_argument_spec
from ansible_collections.configmgr.cmg.plugins.module_utils._module import run


def argument_spec() -> dict:
    """The module's options plus the shared Azure options (whose ``secret`` is ``no_log=True`` there)."""
    spec = azure_argument_spec()
    spec.update(
        service_name={"type": "str"},
        prefix={"type": "str"},
        region={"type": "str"},
        content_enabled={"type": "bool", "default": False},
        checks={"type": "list", "elements": "str", "choices": list(CHECKS)},
        method={"type": "str", "choices": ["arm", "dns"], "default": "arm"},
        nameservers={"type": "list", "elements": "str"},
        resource_group={"type": "str"},
    )
    return spec


def main() -> None:
    """Entry point."""
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("service_name", "prefix")],
                           supports_check_mode=True)
    run(module, lambda: name_availability(module.params))


if __name__ == "__main__":
    main()
