"""Sandbox handlers for deployment readiness: resource providers, compute usages and scale sets.

Shapes follow Microsoft's REST API examples (``../shared/azure-rest-examples``, see SOURCES.md there):

- ``GET /subscriptions/{id}/providers/{namespace}`` (Providers_Get, 2025-04-01,
  ``resources_providers_get.json``) answers a Provider ``{id, namespace, registrationState,
  registrationPolicy, resourceTypes}``.
- ``POST /subscriptions/{id}/providers/{namespace}/register`` (Providers_Register, 2025-04-01) answers
  the Provider, as the 2025-04-01 schema says (its only example, ``resources_providers_register.json``
  at 2021-04-01, is a generated stub with the body ``{}``); the provider is then ``Registering`` for
  ``registering_polls`` reads and ``Registered`` after them.
- ``GET /subscriptions/{id}/providers/Microsoft.Compute/locations/{location}/usages`` (Usage_List,
  2025-11-01, ``compute_usage_list.json``) answers ``{"value": [{unit, currentValue, limit,
  name: {value, localizedValue}}]}``, all in one page (as Azure answers a region); with a seeded
  ``usages_page_size``, ``usages_page_size`` entries a page, each but the last with a ``nextLink``: the
  same URL (the sandbox's https address) with ``$skiptoken`` (an unknown token answers 400).
- ``GET .../resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}``
  (VirtualMachineScaleSets_Get, 2025-11-01, ``compute_virtualmachinescalesets_get.json``) answers the
  scale set ``{name, id, type, location, tags, sku: {name, tier, capacity}, properties}``; 404
  ``ResourceGroupNotFound`` or ``ResourceNotFound`` otherwise.
- Both compute reads answer 409 ``MissingSubscriptionRegistration`` while Microsoft.Compute is not
  ``Registered``, as Resource Manager does (the message names the namespace in quotes, which
  azure-mgmt-core's ``ARMAutoResourceProviderRegistrationPolicy`` reads to register it by itself).

State (``sb.state["readiness"]``), loaded by the ``readiness`` seeder::

    {"providers": {"Microsoft.KeyVault": "NotRegistered", ...},   # unlisted namespaces are Registered
     "registering_polls": 1,   # reads a Registering provider (seeded or just registered) stays Registering
     "usages_page_size": 0,    # usages per Usage_List page; 0: one page without nextLink
     "usages": {"westus": {"cores": [current, limit], "standardAv2Family": [current, limit], ...}},
     "scale_sets": [{"name", "resource_group", "location", "size", "capacity"}],
     "resource_groups": ["rg-cmg"]}

A region without seeded usages has :data:`DEFAULT_USAGES`; seeded entries replace those of the same name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from .core import AzureSandbox, Request, Response, arm_error, route, seeder
from .names import _SUB, _region, precheck

PROVIDERS_API_VERSION = "2025-04-01"
COMPUTE_API_VERSION = "2025-11-01"

#: Usages of a region nobody seeded: (name, localized name, current, limit).
DEFAULT_USAGES = (
    ("availabilitySets", "Availability Sets", 0, 2500),
    ("cores", "Total Regional vCPUs", 0, 100),
    ("virtualMachines", "Virtual Machines", 0, 25000),
    ("virtualMachineScaleSets", "Virtual Machine Scale Sets", 0, 2500),
    ("standardAv2Family", "Standard Av2 Family vCPUs", 0, 100),
    ("standardBSFamily", "Standard BS Family vCPUs", 0, 100),
    ("standardDSv3Family", "Standard DSv3 Family vCPUs", 0, 100),
)
_LABELS = {usage[0]: usage[1] for usage in DEFAULT_USAGES}


def _state(sb: AzureSandbox) -> dict[str, Any]:
    return sb.state.setdefault("readiness", {"providers": {}, "registering_polls": 1, "polls_left": {},
                                             "usages": {}, "scale_sets": [], "resource_groups": [],
                                             "usages_page_size": 0})


@seeder("readiness")
def seed_readiness(sb: AzureSandbox, data: dict[str, Any]) -> None:
    """Merge a seed section into the readiness state."""
    state = _state(sb)
    if "registering_polls" in data:
        state["registering_polls"] = int(data["registering_polls"])
    if "usages_page_size" in data:
        state["usages_page_size"] = int(data["usages_page_size"])
    for namespace, registration in (data.get("providers") or {}).items():
        state["providers"][namespace.lower()] = registration
        state["polls_left"][namespace.lower()] = state["registering_polls"]
    for region, usages in (data.get("usages") or {}).items():
        state["usages"].setdefault(_region(region), {}).update(usages)
    state["scale_sets"].extend(data.get("scale_sets") or [])
    state["resource_groups"].extend(data.get("resource_groups") or [])


# ------------------------------------------------------------------------------------------------
# Resource providers
# ------------------------------------------------------------------------------------------------

def _provider(sb: AzureSandbox, namespace: str, state: str) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sb.subscription_id}/providers/{namespace}", "namespace": namespace,
            "registrationState": state, "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [{"resourceType": "locations", "locations": [], "apiVersions": ["2025-04-01"],
                               "capabilities": "None"}]}


def _current(sb: AzureSandbox, namespace: str, reading: bool) -> str:
    """The provider's state; a read of a Registering provider uses up one of its polls."""
    state = _state(sb)
    key = namespace.lower()
    current = state["providers"].get(key, "Registered")
    if current == "Registering" and reading:
        left = state["polls_left"].get(key, 0)
        if left <= 0:
            current = state["providers"][key] = "Registered"
        else:
            state["polls_left"][key] = left - 1
    return current


@route("GET", _SUB + r"/providers/(?P<namespace>[A-Za-z0-9]+\.[A-Za-z0-9.]+)")
def get_provider(sb: AzureSandbox, request: Request, subscription: str, namespace: str) -> Response:
    """Providers_Get."""
    problem = precheck(sb, request, subscription, PROVIDERS_API_VERSION)
    if problem:
        return problem
    return Response(200, _provider(sb, namespace, _current(sb, namespace, reading=True)))


@route("POST", _SUB + r"/providers/(?P<namespace>[A-Za-z0-9]+\.[A-Za-z0-9.]+)/register")
def register_provider(sb: AzureSandbox, request: Request, subscription: str, namespace: str) -> Response:
    """Providers_Register: an unregistered provider becomes Registering (a registered one stays)."""
    problem = precheck(sb, request, subscription, PROVIDERS_API_VERSION)
    if problem:
        return problem
    state = _state(sb)
    key = namespace.lower()
    if _current(sb, namespace, reading=False) != "Registered":
        state["providers"][key] = "Registering"
        state["polls_left"][key] = state["registering_polls"]
    return Response(200, _provider(sb, namespace, _current(sb, namespace, reading=False)))


# ------------------------------------------------------------------------------------------------
# Compute
# ------------------------------------------------------------------------------------------------

def _compute_precheck(sb: AzureSandbox, request: Request, subscription: str) -> Response | None:
    problem = precheck(sb, request, subscription, COMPUTE_API_VERSION)
    if problem is None and _current(sb, "Microsoft.Compute", reading=False) != "Registered":
        return arm_error(409, "MissingSubscriptionRegistration",
                         "The subscription is not registered to use namespace 'Microsoft.Compute'. See "
                         "https://aka.ms/rps-not-found for how to register subscriptions.")
    return problem


@route("GET", _SUB + r"/providers/Microsoft\.Compute/locations/(?P<location>[^/]+)/usages")
def list_usages(sb: AzureSandbox, request: Request, subscription: str, location: str) -> Response:
    """Usage_List: one page, or pages of ``usages_page_size`` linked by ``nextLink`` (``$skiptoken``: the offset)."""
    problem = _compute_precheck(sb, request, subscription)
    if problem:
        return problem
    usages = {usage[0]: [usage[2], usage[3]] for usage in DEFAULT_USAGES}
    usages.update(_state(sb)["usages"].get(_region(location), {}))
    entries = [{"unit": "Count", "currentValue": current, "limit": limit,
                "name": {"value": name, "localizedValue": _LABELS.get(name, name)}} for name, (current, limit) in usages.items()]
    size = _state(sb)["usages_page_size"]
    if size <= 0:
        return Response(200, {"value": entries})
    token = request.query.get("$skiptoken", "0")
    if not token.isdigit() or int(token) >= max(len(entries), 1):
        return arm_error(400, "InvalidSkipToken", f"The skip token '{token}' is not valid.")
    start = int(token)
    page: dict[str, Any] = {"value": entries[start:start + size]}
    if start + size < len(entries):
        page["nextLink"] = f"{sb.url}{request.path}?api-version={COMPUTE_API_VERSION}&%24skiptoken={start + size}"
    return Response(200, page)


def _groups(sb: AzureSandbox) -> set[str]:
    """Every resource group that exists: seeded ones and those of every seeded resource."""
    names = sb.state.get("names", {})
    items = list(_state(sb)["scale_sets"])
    for key in ("public_ips", "vaults", "storage_accounts"):
        items.extend(names.get(key, []))
    groups = {str(item.get("resource_group", "cmg-rg")).lower() for item in items}
    return groups | {group.lower() for group in _state(sb)["resource_groups"]}


def _scale_set(sb: AzureSandbox, item: dict[str, Any]) -> dict[str, Any]:
    group, name = item.get("resource_group", "cmg-rg"), item["name"]
    base = f"/subscriptions/{sb.subscription_id}/resourceGroups/{group}/providers"
    return {"name": name, "id": f"{base}/Microsoft.Compute/virtualMachineScaleSets/{name}",
            "type": "Microsoft.Compute/virtualMachineScaleSets", "location": item.get("location", "westus"),
            "tags": {}, "sku": {"name": item.get("size", "Standard_A2_v2"), "tier": "Standard",
                                "capacity": int(item.get("capacity", 1))},
            "properties": {"singlePlacementGroup": False, "upgradePolicy": {"mode": "Automatic"},
                           "virtualMachineProfile": {"osProfile": {"computerNamePrefix": name[:9]},
                                                     "securityProfile": {"securityType": "Standard"}},
                           "provisioningState": item.get("provisioning_state", "Succeeded"), "overprovision": False,
                           "platformFaultDomainCount": 1}}


@route("GET", _SUB + r"/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Compute/virtualMachineScaleSets/(?P<name>[^/]+)")
def get_scale_set(sb: AzureSandbox, request: Request, subscription: str, group: str, name: str) -> Response:
    """VirtualMachineScaleSets_Get (names percent-decoded and compared case-insensitively, as ARM does)."""
    problem = _compute_precheck(sb, request, subscription)
    if problem:
        return problem
    group, name = unquote(group), unquote(name)
    if group.lower() not in _groups(sb):
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
    for item in _state(sb)["scale_sets"]:
        if item["name"].lower() == name.lower() and str(item.get("resource_group", "cmg-rg")).lower() == group.lower():
            return Response(200, _scale_set(sb, item))
    return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{name}' under "
                                              f"resource group '{group}' was not found.")
