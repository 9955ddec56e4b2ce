#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell whether an Azure subscription can deploy a CMG: resource providers, VM quota, an existing CMG."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_azure_readiness
short_description: Tell whether an Azure subscription can deploy a cloud management gateway
version_added: 0.1.0
description:
  - Free names are not enough for the CMG wizard to succeed. This module finds what makes the deployment fail
    before the wizard does. Each finding is one entry of RV(checks) with status C(pass), C(warn) or C(fail) and,
    when something is to be done, the C(fix).
  - B(Resource providers.) C(Microsoft.Compute), C(Microsoft.Network), C(Microsoft.Storage) and C(Microsoft.KeyVault)
    must be registered in the subscription. C(Registered) passes, C(Registering) warns, C(NotRegistered) or
    C(Unregistered) fails with the C(az provider register) command. With O(register=true) the module registers them
    itself and waits up to O(register_timeout) seconds until they are C(Registered).
  - B(VM quota.) The CMG runs on a virtual machine scale set of O(vm_instances) VMs of O(vm_size). The module reads
    the region's compute usages and fails when the vCPUs do not fit the remaining regional vCPUs (C(cores)) or the
    remaining vCPUs of the size's family, naming the family, its current value and limit, and the quota request page.
    vCPUs an existing CMG scale set of the same name already uses in the region count as available to it.
  - B(Existing deployment.) With O(resource_group), a virtual machine scale set of the CMG's name (its prefix, lower
    case) in that group is reported with its region, size and capacity (RV(existing_deployment)), so that a renewal
    or a re-run shows C(existing deployment found); the names it holds are this CMG's own.
  - The task does not fail when a check fails - test RV(ready). It changes something only with O(register=true) and
    a provider that is not registered; in check mode it only says so.
  - The reads run concurrently with one token (the compute reads once C(Microsoft.Compute) answered C(Registered));
    429 and 5xx answers are retried (see the Azure access options below).
author:
  - configmgr.cmg contributors (@configmgr)
extends_documentation_fragment:
  - configmgr.cmg._azure
options:
  service_name:
    description:
      - The CMG service name, for example V(GraniteFalls.contoso.com). Its first label, in lower case, is the name of
        the CMG's scale set. A wildcard name such as V(*.contoso.com) needs O(prefix).
      - One of O(service_name) and O(prefix) is required.
    type: str
  prefix:
    description:
      - The CMG prefix (V(GraniteFalls)), given alone or with a wildcard O(service_name).
    type: str
  region:
    description:
      - The Azure region of the CMG, for example V(westus).
    type: str
    required: true
  resource_group:
    description:
      - The resource group the CMG deploys into. Without it the existing scale set is not looked for (RV(note) says so).
    type: str
  vm_size:
    description:
      - The CMG VM size of the wizard - V(lab) (C(Standard_B2s)), V(standard) (C(Standard_A2_v2)) or V(large)
        (C(Standard_A4_v2)).
    type: str
    choices: [lab, standard, large]
    default: standard
  vm_instances:
    description:
      - The number of VM instances, 1 to 16.
    type: int
    default: 1
  register:
    description:
      - Register the resource providers that are not registered, then wait until they are C(Registered).
      - Needs the C(<namespace>/register/action) permission (Contributor has it; see C(docs/permissions.md)).
    type: bool
    default: false
  register_timeout:
    description:
      - With O(register=true), how many seconds to wait for the providers to become C(Registered). A provider still
        C(Registering) after that is a warning.
    type: int
    default: 300
notes:
  - "Azure permissions: C(Microsoft.Resources/subscriptions/providers/read), C(Microsoft.Compute/locations/usages/read),
    C(Microsoft.Compute/virtualMachineScaleSets/read) (the built-in Reader role has them) and, for O(register=true),
    C(<namespace>/register/action) of each provider to register."
requirements:
  - azure-mgmt-core (plain Resource Manager requests for the resource providers, compute usages and scale sets)
seealso:
  - module: configmgr.cmg.cmg_name_available
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: RV(diff) shows the registration state of each provider before and after (as predicted in check mode).
"""

EXAMPLES = r"""
- name: Can the subscription deploy a Standard CMG with two instances? (credentials from AWX's Azure credential)
  configmgr.cmg.cmg_azure_readiness:
    service_name: GraniteFalls.contoso.com
    region: westus
    resource_group: rg-cmg
    vm_instances: 2
  register: readiness

- name: Stop with the findings and their fixes
  ansible.builtin.assert:
    that: readiness.ready
    fail_msg: "{{ readiness.msg }}"

- name: Register the missing resource providers as well (needs Contributor or the register actions)
  configmgr.cmg.cmg_azure_readiness:
    prefix: GraniteFalls
    region: westus
    vm_size: large
    register: true
    register_timeout: 600
"""

RETURN = r"""
ready:
  description: True when no check failed (warnings allowed).
  returned: success
  type: bool
  sample: false
checks:
  description:
    - One entry per finding, in this order - one per resource provider (C(provider Microsoft.Compute), ...), the
      regional and the family vCPU quota (C(quota cores), C(quota standardAv2Family)), and with O(resource_group)
      C(existing deployment).
    - While C(Microsoft.Compute) is not registered the compute usages and scale sets cannot be read (Azure answers
      409, and the Azure SDK would register the provider by itself), so they are not asked for - one C(quota) row
      (and C(existing deployment)) warns instead.
    - C(status) is C(pass), C(warn) or C(fail); C(fix) says what to do, or is null.
  returned: success
  type: list
  elements: dict
  sample:
    - name: provider Microsoft.KeyVault
      status: fail
      message: "Microsoft.KeyVault is NotRegistered in subscription 00000000-0000-0000-0000-000000000000: a CMG
        deployment needs it Registered"
      fix: "az provider register --namespace Microsoft.KeyVault --subscription 00000000-0000-0000-0000-000000000000, or set
        register: true (role: cmg_register_providers: true)"
    - name: quota standardAv2Family
      status: fail
      message: "16 x Standard_A4_v2 (4 vCPUs each) = 64 vCPUs in westus do not fit the family quota: Standard Av2
        Family vCPUs (standardAv2Family): 0 of 20 in use, 20 free"
      fix: "raise the standardAv2Family vCPU limit in westus to 64 or more (quota request:
        https://learn.microsoft.com/azure/quotas/per-vm-quota-requests), or choose a smaller vm_size or fewer
        vm_instances"
providers:
  description: The registration state of each required resource provider at the end of the task (in check mode, as
    it is now).
  returned: success
  type: dict
  sample:
    Microsoft.Compute: Registered
    Microsoft.Network: Registered
    Microsoft.Storage: Registered
    Microsoft.KeyVault: NotRegistered
vm:
  description: The scale set the checks were made for.
  returned: success
  type: dict
  sample:
    choice: standard
    size: Standard_A2_v2
    vcpus: 2
    family: standardAv2Family
    instances: 2
    required_vcpus: 4
diff:
  description: The registration state of each provider before and after the task (after - as predicted in check mode).
  returned: success
  type: dict
  sample: {"before": {"providers": {"Microsoft.KeyVault": "NotRegistered"}},
           "after": {"providers": {"Microsoft.KeyVault": "Registered"}}}
region:
  description: The canonical region name.
  returned: success
  type: str
  sample: westus
resource_group:
  description: The O(resource_group), or null.
  returned: success
  type: str
  sample: rg-cmg
existing_deployment:
  description: The CMG's scale set found in O(resource_group), or null.
  returned: success
  type: dict
  sample:
    name: granitefalls
    id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-cmg/providers/Microsoft.Compute/virtualMachineScaleSets/granitefalls
    location: westus
    vm_size: Standard_A2_v2
    capacity: 2
    provisioning_state: Succeeded
note:
  description: Set when O(resource_group) is not given (the existing scale set was not looked for), else null.
  returned: success
  type: str
msg:
  description: A one-line summary; when not ready, every failed check with its fix.
  returned: always
  type: str
  sample: "the subscription cannot deploy the CMG: Microsoft.KeyVault is NotRegistered in subscription
    00000000-0000-0000-0000-000000000000: a CMG deployment needs it Registered (fix: az provider register --namespace
    Microsoft.KeyVault --subscription 00000000-0000-0000-0000-000000000000, or set register: true (role:
    cmg_register_providers: true))"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import azure_argument_spec
from ansible_collections.configmgr.cmg.plugins.module_utils._module import run
from ansible_collections.configmgr.cmg.plugins.module_utils._readiness import VM_SIZES, readiness


def argument_spec() -> dict:
    """The module's options plus the shared Azure options (whose ``secret`` is ``no_log=True`` there)."""
    spec = azure_argument_spec()
    spec.update(
        service_name={"type": "str"},
        prefix={"type": "str"},
        region={"type": "str", "required": True},
        resource_group={"type": "str"},
        vm_size={"type": "str", "choices": list(VM_SIZES), "default": "standard"},
        vm_instances={"type": "int", "default": 1},
        register={"type": "bool", "default": False},
        register_timeout={"type": "int", "default": 300},
    )
    return spec


def main() -> None:
    """Entry point."""
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("service_name", "prefix")],
                           supports_check_mode=True)
    run(module, lambda: readiness(module.params, check_mode=module.check_mode))


if __name__ == "__main__":
    main()
