"""Sandbox handlers for the three CMG name checks and the listings that find our own resources.

Shapes follow Microsoft's REST API examples and specs (``../shared/azure-rest-examples``, SOURCES.md):

- ``GET .../providers/Microsoft.Network/locations/{location}/CheckDnsNameAvailability?domainNameLabel=``
  answers ``{"available": bool}`` (DnsNameAvailabilityResult).
- ``POST .../providers/Microsoft.KeyVault/checkNameAvailability`` and
  ``POST .../providers/Microsoft.Storage/checkNameAvailability`` take ``{name, type}`` and answer
  ``{nameAvailable, reason: AccountNameInvalid|AlreadyExists, message}`` (reason only when not available).
- Listings in the subscription: public IP addresses, key vaults, deleted key vaults (and one deleted
  vault by location and name), storage accounts, each ``{"value": [...]}`` without ``nextLink``.

State (``sb.state["names"]``), loaded by the ``names`` seeder::

    {"taken": {"dns_label": ["label" | {"label": ..., "location": ...}], "key_vault": [...], "storage_account": [...]},
     "public_ips": [{"name", "resource_group", "location", "label"}],
     "vaults": [{"name", "resource_group", "location"}],
     "storage_accounts": [{"name", "resource_group", "location"}],
     "deleted_vaults": [{"name", "resource_group", "location", "purge_protection": false}]}

Names in ``taken`` belong to someone else; the resources listed are this subscription's, and their
names (and those of deleted vaults) are taken as well.
"""

from __future__ import annotations

import re
from typing import Any

from .core import AzureSandbox, Request, Response, arm_error, route, seeder

_SUB = r"/subscriptions/(?P<subscription>[^/]+)"
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_DNS_LABEL = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
_VAULT = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
_STORAGE = re.compile(r"^[a-z0-9]{3,24}$")
_DOMAINS = {
    "AzureCloud": {"cloudapp": "cloudapp.azure.com", "vault": "vault.azure.net", "blob": "blob.core.windows.net"},
    "AzureUSGovernment": {"cloudapp": "cloudapp.usgovcloudapi.net", "vault": "vault.usgovcloudapi.net",
                          "blob": "blob.core.usgovcloudapi.net"},
}


def _state(sb: AzureSandbox) -> dict[str, Any]:
    return sb.state.setdefault("names", {
        "taken": {"dns_label": [], "key_vault": [], "storage_account": []},
        "public_ips": [], "vaults": [], "storage_accounts": [], "deleted_vaults": [],
    })


@seeder("names")
def seed_names(sb: AzureSandbox, data: dict[str, Any]) -> None:
    """Merge a seed section into the names state."""
    state = _state(sb)
    for kind, names in (data.get("taken") or {}).items():
        state["taken"].setdefault(kind, []).extend(names)
    for key in ("public_ips", "vaults", "storage_accounts", "deleted_vaults"):
        state[key].extend(data.get(key) or [])


def _region(value: str) -> str:
    return re.sub(r"[\s_-]", "", value).lower()


def _domains(sb: AzureSandbox) -> dict[str, str]:
    return _DOMAINS.get(sb.cloud_name, _DOMAINS["AzureCloud"])


def precheck(sb: AzureSandbox, request: Request, subscription: str, supported: str | None = None) -> Response | None:
    """ARM's own checks: api-version present and well formed (and ``supported`` when given), the subscription known.
    Shared with the DNS routes."""
    version = request.query.get("api-version")
    if not version:
        return arm_error(400, "MissingApiVersionParameter",
                         "The api-version query parameter (?api-version=) is required for all requests.")
    if not _API_VERSION.match(version) or (supported is not None and version != supported):
        also = f" The supported api-versions are '{supported}'." if supported else ""
        return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.{also}")
    if subscription.lower() != sb.subscription_id.lower():
        return arm_error(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
    return None


def _resource_id(sb: AzureSandbox, item: dict[str, Any], provider: str) -> str:
    return (f"/subscriptions/{sb.subscription_id}/resourceGroups/{item.get('resource_group', 'cmg-rg')}"
            f"/providers/{provider}/{item['name']}")


# ------------------------------------------------------------------------------------------------
# Name checks
# ------------------------------------------------------------------------------------------------

def _label_taken(sb: AzureSandbox, label: str, location: str) -> bool:
    state = _state(sb)
    for entry in state["taken"].get("dns_label", []):
        name, where = (entry, None) if isinstance(entry, str) else (entry["label"], entry.get("location"))
        if name.lower() == label and (where is None or _region(where) == location):
            return True
    return any(str(ip.get("label", "")).lower() == label and _region(ip["location"]) == location
               for ip in state["public_ips"])


@route("GET", _SUB + r"/providers/Microsoft\.Network/locations/(?P<location>[^/]+)/CheckDnsNameAvailability")
def check_dns_name(sb: AzureSandbox, request: Request, subscription: str, location: str) -> Response:
    """CheckDnsNameAvailability: is ``domainNameLabel`` free in ``<location>.cloudapp...``?"""
    problem = precheck(sb, request, subscription)
    if problem:
        return problem
    label = request.query.get("domainNameLabel")
    if not label:
        return arm_error(400, "MissingParameter", "The domainNameLabel query parameter is required.")
    if not _DNS_LABEL.match(label):
        return arm_error(400, "InvalidDomainNameLabel",
                         f"The domain name label {label} is invalid. It must conform to the regular expression "
                         "^[a-z][a-z0-9-]{1,61}[a-z0-9]$.")
    return Response(200, {"available": not _label_taken(sb, label, _region(location))})


def _check_body(request: Request, resource_type: str) -> tuple[str | None, Response | None]:
    body = request.body if isinstance(request.body, dict) else {}
    name, kind = body.get("name"), body.get("type")
    if not isinstance(name, str) or kind != resource_type:
        return None, arm_error(400, "InvalidRequestContent",
                               f"The request content must be {{\"name\": ..., \"type\": \"{resource_type}\"}}.")
    return name, None


def _checked_name(sb: AzureSandbox, request: Request, subscription: str,
                  resource_type: str) -> tuple[str | None, Response | None]:
    """The name of a checkNameAvailability POST, after the api-version and subscription checks; or the error."""
    problem = precheck(sb, request, subscription)
    return (None, problem) if problem else _check_body(request, resource_type)


def _taken_vault(sb: AzureSandbox, name: str) -> bool:
    state = _state(sb)
    names = [*state["taken"].get("key_vault", []), *(v["name"] for v in state["vaults"]),
             *(v["name"] for v in state["deleted_vaults"])]
    return name.lower() in {n.lower() for n in names}


@route("POST", _SUB + r"/providers/Microsoft\.KeyVault/checkNameAvailability")
def check_vault_name(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """Vaults_CheckNameAvailability (deleted but not purged vaults hold their names)."""
    name, problem = _checked_name(sb, request, subscription, "Microsoft.KeyVault/vaults")
    if problem or name is None:
        return problem or arm_error(400, "InvalidRequestContent", "no name")
    if not _VAULT.match(name) or "--" in name:
        return Response(200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                              "message": "Vault name must be between 3-24 alphanumeric characters. The name must begin "
                                         "with a letter, end with a letter or digit, and not contain consecutive "
                                         "hyphens."})
    if _taken_vault(sb, name):
        return Response(200, {"nameAvailable": False, "reason": "AlreadyExists",
                              "message": f"The vault name '{name}' is already in use. Vault names are globally unique; "
                                         "a vault with this name may also have been deleted recently and not purged."})
    return Response(200, {"nameAvailable": True})


@route("POST", _SUB + r"/providers/Microsoft\.Storage/checkNameAvailability")
def check_storage_name(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """StorageAccounts_CheckNameAvailability."""
    name, problem = _checked_name(sb, request, subscription, "Microsoft.Storage/storageAccounts")
    if problem or name is None:
        return problem or arm_error(400, "InvalidRequestContent", "no name")
    if not _STORAGE.match(name):
        return Response(200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                              "message": f"{name} is not a valid storage account name. Storage account name must be "
                                         "between 3 and 24 characters in length and use numbers and lower-case letters "
                                         "only."})
    state = _state(sb)
    taken = {n.lower() for n in [*state["taken"].get("storage_account", []), *(a["name"] for a in state["storage_accounts"])]}
    if name.lower() in taken:
        return Response(200, {"nameAvailable": False, "reason": "AlreadyExists",
                              "message": f"The storage account named {name} is already taken."})
    return Response(200, {"nameAvailable": True})


# ------------------------------------------------------------------------------------------------
# Listings
# ------------------------------------------------------------------------------------------------

def _public_ip(sb: AzureSandbox, item: dict[str, Any]) -> dict[str, Any]:
    location = _region(item["location"])
    properties: dict[str, Any] = {"provisioningState": "Succeeded", "publicIPAddressVersion": "IPv4",
                                  "publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": 4,
                                  "ipAddress": item.get("ip_address", "203.0.113.10")}
    if item.get("label"):
        properties["dnsSettings"] = {"domainNameLabel": item["label"],
                                     "fqdn": f"{item['label']}.{location}.{_domains(sb)['cloudapp']}"}
    return {"name": item["name"], "id": _resource_id(sb, item, "Microsoft.Network/publicIPAddresses"),
            "etag": 'W/"00000000-0000-0000-0000-000000000001"', "location": location,
            "type": "Microsoft.Network/publicIPAddresses", "sku": {"name": "Standard", "tier": "Regional"},
            "properties": properties}


def _vault(sb: AzureSandbox, item: dict[str, Any]) -> dict[str, Any]:
    return {"id": _resource_id(sb, item, "Microsoft.KeyVault/vaults"), "name": item["name"],
            "type": "Microsoft.KeyVault/vaults", "location": _region(item["location"]), "tags": {},
            "properties": {"tenantId": sb.tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": [],
                           "vaultUri": f"https://{item['name'].lower()}.{_domains(sb)['vault']}/",
                           "enableSoftDelete": True, "softDeleteRetentionInDays": 90,
                           "provisioningState": "Succeeded"}}


def _deleted_vault(sb: AzureSandbox, item: dict[str, Any]) -> dict[str, Any]:
    location = _region(item["location"])
    return {"id": f"/subscriptions/{sb.subscription_id}/providers/Microsoft.KeyVault/locations/{location}"
                  f"/deletedVaults/{item['name']}",
            "name": item["name"], "type": "Microsoft.KeyVault/deletedVaults",
            "properties": {"vaultId": _resource_id(sb, item, "Microsoft.KeyVault/vaults"), "location": location,
                           "deletionDate": item.get("deletion_date", "2026-11-01T10:00:00Z"),
                           "scheduledPurgeDate": item.get("purge_date", "2027-01-30T10:00:00Z"), "tags": {},
                           "purgeProtectionEnabled": bool(item.get("purge_protection", False))}}


def _storage_account(sb: AzureSandbox, item: dict[str, Any]) -> dict[str, Any]:
    return {"id": _resource_id(sb, item, "Microsoft.Storage/storageAccounts"), "name": item["name"],
            "type": "Microsoft.Storage/storageAccounts", "location": _region(item["location"]), "kind": "StorageV2",
            "sku": {"name": "Standard_LRS", "tier": "Standard"}, "tags": {},
            "properties": {"provisioningState": "Succeeded", "statusOfPrimary": "available",
                           "creationTime": "2026-10-01T08:00:00.0000000Z",
                           "primaryEndpoints": {"blob": f"https://{item['name']}.{_domains(sb)['blob']}/"}}}


def _listing(sb: AzureSandbox, request: Request, subscription: str, key: str, shape: Any) -> Response:
    problem = precheck(sb, request, subscription)
    if problem:
        return problem
    return Response(200, {"value": [shape(sb, item) for item in _state(sb)[key]]})


@route("GET", _SUB + r"/providers/Microsoft\.Network/publicIPAddresses")
def list_public_ips(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """PublicIPAddresses_ListAll."""
    return _listing(sb, request, subscription, "public_ips", _public_ip)


@route("GET", _SUB + r"/providers/Microsoft\.KeyVault/vaults")
def list_vaults(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """Vaults_ListBySubscription."""
    return _listing(sb, request, subscription, "vaults", _vault)


@route("GET", _SUB + r"/providers/Microsoft\.KeyVault/deletedVaults")
def list_deleted_vaults(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """Vaults_ListDeleted."""
    return _listing(sb, request, subscription, "deleted_vaults", _deleted_vault)


@route("GET", _SUB + r"/providers/Microsoft\.KeyVault/locations/(?P<location>[^/]+)/deletedVaults/(?P<name>[^/]+)")
def get_deleted_vault(sb: AzureSandbox, request: Request, subscription: str, location: str, name: str) -> Response:
    """Vaults_GetDeleted."""
    problem = precheck(sb, request, subscription)
    if problem:
        return problem
    for item in _state(sb)["deleted_vaults"]:
        if item["name"].lower() == name.lower() and _region(item["location"]) == _region(location):
            return Response(200, _deleted_vault(sb, item))
    return arm_error(404, "ResourceNotFound", f"The vault '{name}' was not found in deleted vaults of location '{location}'.")


@route("GET", _SUB + r"/providers/Microsoft\.Storage/storageAccounts")
def list_storage_accounts(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """StorageAccounts_List."""
    return _listing(sb, request, subscription, "storage_accounts", _storage_account)
