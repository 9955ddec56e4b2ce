"""Azure DNS (Microsoft.Network/dnsZones, api-version 2018-05-01) in the sandbox.

Zones (list in a subscription or resource group, in pages of ``$top`` zones (100 by default, or
:func:`set_zone_page_size`) linked by ``nextLink`` with a ``$skipToken``, as Zones_List documents;
get) and record sets (get, put, delete for any type; list of a zone) in the shapes of Microsoft's
examples (``dns_zones_get.json``, ``dns_recordsets_*_cname.json``), with ETag semantics: ``If-Match`` and ``If-None-Match: *`` give
412 PreconditionFailed, a CNAME beside other record types (or the reverse) gives 409 Conflict.
:func:`inject_race` changes a record set just before the next write to it arrives, as a concurrent
writer would between the module's read and its write.

State: ``sb.state["dns"] = {"zones": {"<rg>/<zone>": zone}, "races": [...], "page_size": n}``, where a zone is
``{"name", "resourceGroup", "nameServers", "tags", "etag", "records": {"<name>/<TYPE>": record set}}``
(keys lower case) and a record set is stored in its REST shape.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, Optional
from urllib.parse import quote

from .core import AzureSandbox, Request, Response, arm_error, route, seeder
from .names import precheck

#: As in Microsoft's ``dns_zones_get.json`` example: without trailing dots.
DEFAULT_NAME_SERVERS = ["ns1-01.azure-dns.com", "ns2-01.azure-dns.net", "ns3-01.azure-dns.org", "ns4-01.azure-dns.info"]
API_VERSION = "2018-05-01"
#: Served only when a test or benchmark allows it (the ``dns_api_versions`` seed section): the preview that
#: azure.azcollection's DnsManagementClient pins. Microsoft's 2023-07-01-preview examples ``GetZone.json`` and
#: ``GetCNAMERecordset.json`` have the 2018-05-01 bodies. By default only 2018-05-01 is served, so the
#: collection's own requests stay held to the stable version.
PREVIEW_API_VERSIONS = ("2023-07-01-preview",)
_PROVIDER = r"/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Network/dnsZones"
_ZONE = _PROVIDER + r"/(?P<zone>[^/]+)"
_RECORD = _ZONE + r"/(?P<rtype>A|AAAA|CAA|CNAME|MX|NS|PTR|SOA|SRV|TXT)/(?P<name>[^/]+)"


def _dns(sb: AzureSandbox) -> dict[str, Any]:
    return sb.state.setdefault("dns", {"zones": {}, "races": []})


def set_zone_page_size(sb: AzureSandbox, size: int) -> None:
    """List zones in pages of ``size`` (a request's ``$top`` still wins), each page linking the next by ``nextLink``."""
    _dns(sb)["page_size"] = size


def _etag() -> str:
    return str(uuid.uuid4())


def add_zone(sb: AzureSandbox, name: str, resource_group: str = "rg-dns",
             name_servers: Optional[list[str]] = None, tags: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Create a zone in the sandbox (state only, not a request)."""
    zone = {"name": name.lower().rstrip("."), "resourceGroup": resource_group, "etag": _etag(),
            "nameServers": list(name_servers or DEFAULT_NAME_SERVERS), "tags": dict(tags or {}), "records": {}}
    _dns(sb)["zones"][f"{resource_group.lower()}/{zone['name']}"] = zone
    return zone


def _record_key(name: str, rtype: str) -> str:
    return f"{name.lower()}/{rtype.upper()}"


def put_record(sb: AzureSandbox, zone: str, name: str, rtype: str, properties: dict[str, Any],
               resource_group: str = "rg-dns") -> dict[str, Any]:
    """Store a record set (state only): ``properties`` as in the REST body (``TTL``, ``CNAMERecord``...)."""
    found = _zone(sb, resource_group, zone)
    if found is None:
        raise KeyError(f"no sandbox zone {resource_group}/{zone}")
    record = _record_body(sb, found, name, rtype, properties)
    found["records"][_record_key(name, rtype)] = record
    return record


def get_record(sb: AzureSandbox, zone: str, name: str, rtype: str = "CNAME",
               resource_group: str = "rg-dns") -> Optional[dict[str, Any]]:
    """The stored record set, or None."""
    found = _zone(sb, resource_group, zone)
    return None if found is None else found["records"].get(_record_key(name, rtype))


def inject_race(sb: AzureSandbox, zone: str, name: str, properties: Optional[dict[str, Any]], rtype: str = "CNAME",
                times: int = 1, resource_group: str = "rg-dns", when_writing: str = "CNAME") -> None:
    """Before each of the next ``times`` writes to ``name``/``when_writing``, store the ``rtype`` record set
    ``properties`` (None: delete it): a concurrent writer between the module's read and its write."""
    _dns(sb)["races"].append({"group": resource_group.lower(), "zone": zone.lower(),
                              "trigger": _record_key(name, when_writing), "key": _record_key(name, rtype),
                              "name": name, "rtype": rtype.upper(), "properties": properties, "remaining": times})


@seeder("dns")
def seed_dns(sb: AzureSandbox, data: Any) -> None:
    """``{"zones": [{"name", "resourceGroup", "nameServers", "records": [{"name", "type", "properties"}]}]}``."""
    for zone in data.get("zones", []):
        group = zone.get("resourceGroup", "rg-dns")
        add_zone(sb, zone["name"], group, zone.get("nameServers"), zone.get("tags"))
        for record in zone.get("records", []):
            put_record(sb, zone["name"], record["name"], record["type"], record["properties"], group)


def _zone(sb: AzureSandbox, group: str, name: str) -> Optional[dict[str, Any]]:
    return _dns(sb)["zones"].get(f"{group.lower()}/{name.lower().rstrip('.')}")


def _zone_body(sb: AzureSandbox, zone: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sb.subscription_id}/resourceGroups/{zone['resourceGroup']}/providers/Microsoft.Network/"
              f"dnsZones/{zone['name']}",
        "etag": zone["etag"],
        "location": "global",
        "name": zone["name"],
        "type": "Microsoft.Network/dnsZones",
        "properties": {"maxNumberOfRecordSets": 10000, "numberOfRecordSets": len(zone["records"]) + 2,
                       "nameServers": list(zone["nameServers"])},
        "tags": dict(zone["tags"]),
    }


def _record_body(sb: AzureSandbox, zone: dict[str, Any], name: str, rtype: str, properties: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in properties.items() if key not in ("fqdn", "provisioningState")}
    kept.setdefault("metadata", {})
    kept["fqdn"] = f"{name}.{zone['name']}"
    kept["provisioningState"] = "Succeeded"
    return {
        "id": f"/subscriptions/{sb.subscription_id}/resourceGroups/{zone['resourceGroup']}/providers/Microsoft.Network/"
              f"dnsZones/{zone['name']}/{rtype.upper()}/{name}",
        "etag": _etag(),
        "name": name,
        "type": f"Microsoft.Network/dnsZones/{rtype.upper()}",
        "properties": kept,
    }


def _arm_checks(sb: AzureSandbox, request: Request, subscription: str) -> Optional[Response]:
    """The api-version (exactly 2018-05-01, or a preview the seed allowed) and the subscription, before anything else."""
    version = request.query.get("api-version")
    return precheck(sb, request, subscription, version if version in _dns(sb).get("api_versions", ()) else API_VERSION)


@seeder("dns_api_versions")
def seed_api_versions(sb: AzureSandbox, data: Any) -> None:
    """``["2023-07-01-preview"]``: the DNS routes answer these api-versions too (one of :data:`PREVIEW_API_VERSIONS`)."""
    unknown = sorted(set(data) - set(PREVIEW_API_VERSIONS))
    if unknown:
        raise ValueError(f"the sandbox's DNS routes know no api-version {unknown}; they can also serve {PREVIEW_API_VERSIONS}")
    _dns(sb)["api_versions"] = list(data)


def _zone_missing(group: str, zone: str) -> Response:
    return arm_error(404, "ResourceNotFound",
                     f"The Resource 'Microsoft.Network/dnszones/{zone}' under resource group '{group}' was not found.")


def _checked_zone(sb: AzureSandbox, request: Request, subscription: str, group: str,
                  zone: str) -> Response | dict[str, Any]:
    """The zone a zone-level request names, after the api-version and subscription checks; or the error."""
    failure = _arm_checks(sb, request, subscription)
    if failure is not None:
        return failure
    found = _zone(sb, group, zone)
    return _zone_missing(group, zone) if found is None else found


def _zone_page(sb: AzureSandbox, request: Request, zones: list[dict[str, Any]]) -> Response:
    """One page of a zone listing: ``$top`` zones (default: the page size) from the ``$skipToken``'s offset, and the
    ``nextLink`` to the rest (an absolute https URL with the api-version and an opaque ``$skipToken``)."""
    try:
        size = int(request.query.get("$top") or _dns(sb).get("page_size") or 100)
        token = request.query.get("$skipToken")
        start = int(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").split(":", 1)[1]) if token else 0
    except (ValueError, IndexError):
        return arm_error(400, "InvalidParameter", "The $top or $skipToken parameter is invalid.")
    body: dict[str, Any] = {"value": [_zone_body(sb, zone) for zone in zones[start:start + size]]}
    if start + size < len(zones):
        skip = base64.urlsafe_b64encode(f"offset:{start + size}".encode("ascii")).decode("ascii")
        top = f"&$top={request.query['$top']}" if request.query.get("$top") else ""
        body["nextLink"] = f"{sb.url}{request.path}?api-version={API_VERSION}{top}&$skipToken={quote(skip)}"
    return Response(200, body)


@route("GET", r"/subscriptions/(?P<subscription>[^/]+)/providers/Microsoft\.Network/dnszones")
def list_zones(sb: AzureSandbox, request: Request, subscription: str) -> Response:
    """Zones_List: every zone of the subscription, in pages."""
    return _arm_checks(sb, request, subscription) or _zone_page(sb, request, list(_dns(sb)["zones"].values()))


@route("GET", _PROVIDER)
def list_zones_in_group(sb: AzureSandbox, request: Request, subscription: str, group: str) -> Response:
    """Zones_ListByResourceGroup, in pages."""
    zones = [zone for zone in _dns(sb)["zones"].values() if zone["resourceGroup"].lower() == group.lower()]
    return _arm_checks(sb, request, subscription) or _zone_page(sb, request, zones)


@route("GET", _ZONE)
def get_zone(sb: AzureSandbox, request: Request, subscription: str, group: str, zone: str) -> Response:
    """Zones_Get."""
    found = _checked_zone(sb, request, subscription, group, zone)
    return found if isinstance(found, Response) else Response(200, _zone_body(sb, found))


@route("GET", _ZONE + r"/(?P<kind>recordsets|all)")
def list_records(sb: AzureSandbox, request: Request, subscription: str, group: str, zone: str, kind: str) -> Response:
    """RecordSets_ListByDnsZone / ListAllByDnsZone (one page)."""
    found = _checked_zone(sb, request, subscription, group, zone)
    if isinstance(found, Response):
        return found
    return Response(200, {"value": list(found["records"].values())})


def _not_found(name: str, group: str, subscription: str) -> Response:
    return arm_error(404, "NotFound",
                     f"The resource record '{name}' does not exist in resource group '{group}' of subscription "
                     f"'{subscription}'.")


def _run_race(sb: AzureSandbox, zone: dict[str, Any], key: str) -> None:
    for race in _dns(sb)["races"]:
        if race["remaining"] > 0 and race["zone"] == zone["name"] and race["group"] == zone["resourceGroup"].lower() \
                and race["trigger"] == key:
            race["remaining"] -= 1
            if race["properties"] is None:
                zone["records"].pop(race["key"], None)
            else:
                zone["records"][race["key"]] = _record_body(sb, zone, race["name"], race["rtype"], race["properties"])


def _precondition(request: Request, existing: Optional[dict[str, Any]]) -> Optional[Response]:
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match == "*" and existing is not None:
        return arm_error(412, "PreconditionFailed", "The record set already exists (If-None-Match: *).")
    if if_match is not None and if_match != "*" and (existing is None or existing["etag"] != if_match):
        return arm_error(412, "PreconditionFailed",
                         "The condition 'If-Match' was not met: the record set has been modified or deleted.")
    if if_match == "*" and existing is None:
        return arm_error(412, "PreconditionFailed", "The record set does not exist (If-Match: *).")
    return None


def _conflict(zone: dict[str, Any], name: str, rtype: str) -> Optional[Response]:
    others = sorted(key.split("/")[1] for key in zone["records"] if key.split("/")[0] == name.lower()
                    and key.split("/")[1] != rtype.upper())
    if others and (rtype.upper() == "CNAME" or "CNAME" in others):
        return arm_error(409, "Conflict",
                         f"The record set {name} of type {rtype.upper()} conflicts with existing record sets of type "
                         f"{', '.join(others)}: a CNAME record set cannot coexist with other record sets of the same name.")
    return None


@route("GET", _RECORD)
def get_record_set(sb: AzureSandbox, request: Request, subscription: str, group: str, zone: str, rtype: str,
                   name: str) -> Response:
    """RecordSets_Get."""
    found = _checked_zone(sb, request, subscription, group, zone)
    if isinstance(found, Response):
        return found
    record = found["records"].get(_record_key(name, rtype))
    return Response(200, record) if record else _not_found(name, group, subscription)


def _conditional_write(sb: AzureSandbox, request: Request, subscription: str, group: str, zone: str, rtype: str,
                       name: str) -> Response | tuple[dict[str, Any], str, dict[str, Any] | None]:
    """The zone, record key and current record set for a PUT or DELETE, after the race hook and the
    If-Match / If-None-Match check; or the error to answer instead."""
    found = _checked_zone(sb, request, subscription, group, zone)
    if isinstance(found, Response):
        return found
    key = _record_key(name, rtype)
    _run_race(sb, found, key)
    existing = found["records"].get(key)
    failure = _precondition(request, existing)
    return failure if failure is not None else (found, key, existing)


@route("PUT", _RECORD)
def put_record_set(sb: AzureSandbox, request: Request, subscription: str, group: str, zone: str, rtype: str,
                   name: str) -> Response:
    """RecordSets_CreateOrUpdate: 201 on create, 200 on update, with a new etag."""
    target = _conditional_write(sb, request, subscription, group, zone, rtype, name)
    if isinstance(target, Response):
        return target
    found, key, existing = target
    failure = _conflict(found, name, rtype)
    if failure is not None:
        return failure
    properties = (request.body or {}).get("properties", {})
    record = _record_body(sb, found, name, rtype, properties)
    found["records"][key] = record
    return Response(200 if existing else 201, record)


@route("DELETE", _RECORD)
def delete_record_set(sb: AzureSandbox, request: Request, subscription: str, group: str, zone: str, rtype: str,
                      name: str) -> Response:
    """RecordSets_Delete: 200 when deleted, 204 when there was nothing to delete."""
    target = _conditional_write(sb, request, subscription, group, zone, rtype, name)
    if isinstance(target, Response):
        return target
    found, key, existing = target
    if existing is None:
        return Response(204)
    del found["records"][key]
    return Response(200)
