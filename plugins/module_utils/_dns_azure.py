# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record sets in an Azure DNS zone, through azure-mgmt-dns (record sets api-version 2018-05-01).

Every write is conditional on what was read: creation sends ``If-None-Match: *``, update and
delete send ``If-Match: <etag>``. A 412 (someone changed the record set meanwhile) raises
:class:`RaceError` for the core to read again; a 409 (a CNAME beside other record types) becomes a
one-line message naming them. Anything Azure lists or answers is checked before it is used: a zone
with a malformed id or name, or a write answered without a record set, is one line, never a traceback.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ._azure import AzureSession, run_concurrently
from ._dns_core import (
    ProviderSpec,
    RaceError,
    RecordSet,
    check_dns_name,
    normalize_name,
    others_error,
    refused,
    register,
    relative_name,
)
from ._dns_resolve import DNS_PORT, NameServer, servers_from_names
from ._errors import AzureError, DnsError


#: Record types that cannot share a name with a CNAME (SOA only exists at the apex, which is refused).
OTHER_TYPES = ("A", "AAAA", "CAA", "MX", "NS", "PTR", "SRV", "TXT")
#: Record types this provider writes.
WRITABLE_TYPES = ("CNAME", "TXT")
_READ_PERMISSION = "Microsoft.Network/dnsZones/read"


def _permission(rtype: str, verb: str) -> str:
    return f"Microsoft.Network/dnsZones/{rtype}/{verb}"


def _status(exc: AzureError) -> Optional[int]:
    status = exc.details.get("status_code")
    return int(status) if isinstance(status, int) else None


def _resource_group(resource_id: Any) -> Optional[str]:
    """The resource group named in an ARM id, or None when the id is not one."""
    if not isinstance(resource_id, str):
        return None
    parts = resource_id.split("/")
    lowered = [part.lower() for part in parts]
    if "resourcegroups" not in lowered or lowered.index("resourcegroups") + 1 >= len(parts):
        return None
    group = parts[lowered.index("resourcegroups") + 1]
    return group or None


def _zone_contains(zone: str, fqdn: str) -> bool:
    return fqdn == zone or fqdn.endswith("." + zone)


def _zone_not_found(problem: str, zones: Optional[list[Any]] = None) -> DnsError:
    """The zone-not-found failure; ``zones``: the zones that were listed (None: none were listed)."""
    details = {} if zones is None else {"zones": sorted(normalize_name(item.name) for item in zones)}
    return DnsError(f"{problem}; create the zone, or give zone and resource_group", **details)


def _checked_zone(item: Any, where: str) -> Any:
    """A zone Azure listed or returned, with a DNS name, a resource id naming its group and a list of name servers."""
    name, zone_id = getattr(item, "name", None), getattr(item, "id", None)
    shown = f"{str(name)[:60]!r} (id {str(zone_id)[:120]!r})"
    if not isinstance(name, str):
        raise DnsError(f"Azure listed a DNS zone without a name in {where}: {shown}; the answer is malformed")
    try:
        check_dns_name(name, "zone")
    except DnsError:
        raise DnsError(f"Azure listed a DNS zone whose name is not a DNS name in {where}: {shown}") from None
    if _resource_group(zone_id) is None:
        raise DnsError(f"Azure listed the DNS zone {name[:60]!r} with a malformed resource id in {where}: {shown}")
    servers = getattr(item, "name_servers", None) or []
    if not isinstance(servers, list) or not all(isinstance(server, str) for server in servers):
        raise DnsError(f"Azure listed the DNS zone {name[:60]!r} with malformed name servers in {where}")
    return item


@register
class AzureDnsProvider:
    """Zones in Azure DNS, through one :class:`AzureSession`."""

    name = "azure_dns"
    conditional_writes = True
    supports_metadata = True
    spec = ProviderSpec(options={"resource_group": {"type": "str"}})

    def __init__(self, session: AzureSession, zone: Optional[str] = None, resource_group: Optional[str] = None) -> None:
        self.session = session
        self._zone_option = check_dns_name(zone, "zone") if zone else None
        self._group_option = resource_group
        self._zones: dict[str, Any] = {}  # fqdn -> zone resource
        self._client: Any = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None,
                    retry: Any = None) -> "AzureDnsProvider":
        """The provider from the module's options: the Azure session is resolved, no request is sent."""
        session = AzureSession.from_options(params, environ, retry) if retry else AzureSession.from_options(params, environ)
        return cls(session, params.get("zone"), params.get("resource_group"))

    def __enter__(self) -> "AzureDnsProvider":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (its HTTP connections)."""
        self.session.close()

    @property
    def cloud_name(self) -> str:
        """The Azure cloud of the session (its naming rules derive the CNAME target)."""
        return self.session.cloud_name

    def result_extras(self) -> dict[str, Any]:
        """Where the Azure credentials came from."""
        return {"auth_source_used": self.session.auth_source_used}

    @property
    def client(self) -> Any:
        """The DnsManagementClient (created on first use)."""
        if self._client is None:
            self.session.warm_up("dns")  # the token round trips overlap the SDK import
            self._client = self.session.client("dns")
        return self._client

    def _call(self, description: str, fn: Any, *args: Any, permission: str, **kwargs: Any) -> Any:
        """:meth:`AzureSession.call`, and an answer the SDK cannot read (an HTML page from a proxy, say) is
        one line naming the request and its HTTP status instead of a deserialization traceback."""
        answered: list[tuple[str, str, int]] = []

        def hook(response: Any) -> None:
            request = response.http_request
            answered.append((request.method, str(request.url).split("?", 1)[0], response.http_response.status_code))

        try:
            return self.session.call(description, fn, *args, permission=permission, raw_response_hook=hook, **kwargs)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            method, url, status = answered[-1] if answered else ("", "", None)
            raise DnsError(f"Azure answered HTTP {status} to {method} {url[:200]} without a valid JSON body while "
                           f"{description} ({type(exc).__name__}); a proxy or gateway may be in the way") from None

    # --- zones -------------------------------------------------------------------------------
    def _where(self, resource_group: Optional[str]) -> str:
        where = f"subscription {self.session.subscription_id}"
        return f"resource group {resource_group} of {where}" if resource_group else where

    def _list_zones(self, resource_group: Optional[str]) -> list[Any]:
        zones = self.client.zones
        where = self._where(resource_group)
        if resource_group:
            found = self._call(f"listing the DNS zones of {where}",
                               lambda **hook: list(zones.list_by_resource_group(resource_group, **hook)),
                               permission=_READ_PERMISSION)
        else:
            found = self._call(f"listing the DNS zones of {where}", lambda **hook: list(zones.list(**hook)),
                               permission=_READ_PERMISSION)
        return [_checked_zone(item, where) for item in found]

    def _get_zone(self, zone: str, resource_group: str) -> Any:
        """The zone when both zone and resource group are known: one GET, no listing."""
        where = self._where(resource_group)
        try:
            found = self._call(f"reading the DNS zone {zone} in {where}", self.client.zones.get,
                               resource_group, zone, permission=_READ_PERMISSION)
        except AzureError as exc:
            if _status(exc) == 404:
                raise _zone_not_found(f"the DNS zone {zone} was not found in {where}") from exc
            raise
        return _checked_zone(found, where)

    def _find_zone(self, fqdn: str) -> Any:
        zone, resource_group = self._zone_option, self._group_option
        if zone and not _zone_contains(zone, fqdn):
            raise DnsError(f"the DNS zone {zone} does not contain {fqdn}")
        if zone and resource_group:
            return self._get_zone(zone, resource_group)
        zones = self._list_zones(resource_group)
        if zone:
            matching = [item for item in zones if normalize_name(item.name) == zone]
        else:
            matching = [item for item in zones if _zone_contains(normalize_name(item.name), fqdn)]
        if not matching:
            problem = (f"the DNS zone {zone} was not found in {self._where(resource_group)}" if zone
                       else f"no Azure DNS zone in {self._where(resource_group)} contains {fqdn}")
            raise _zone_not_found(problem, zones)
        longest = max(len(item.name) for item in matching)
        best = [item for item in matching if len(item.name) == longest]
        if len(best) > 1:
            groups = ", ".join(sorted(str(_resource_group(item.id)) for item in best))
            raise DnsError(f"the DNS zone {normalize_name(best[0].name)} exists in several resource groups ({groups}): "
                           "give resource_group")
        return best[0]

    def _zone_resource(self, fqdn: str) -> Any:
        fqdn = normalize_name(fqdn)
        if fqdn not in self._zones:
            self._zones[fqdn] = self._find_zone(fqdn)
        return self._zones[fqdn]

    def zone_for(self, fqdn: str) -> str:
        """The zone that holds ``fqdn``: the one given, or the longest of the subscription (or resource group)."""
        return normalize_name(self._zone_resource(fqdn).name)

    def _locate(self, fqdn: str) -> tuple[str, str, str]:
        """(resource group, zone, record name) of ``fqdn``."""
        found = self._zone_resource(fqdn)
        zone = normalize_name(found.name)
        return _resource_group(found.id), zone, relative_name(fqdn, zone)

    # --- reads -------------------------------------------------------------------------------
    def _get(self, fqdn: str, rtype: str) -> Optional[Any]:
        group, zone, name = self._locate(fqdn)
        description = f"reading the {rtype} record set {name} in zone {zone}"
        try:
            return self._call(description, self.client.record_sets.get, group, zone, name, rtype,
                              permission=_READ_PERMISSION)
        except AzureError as exc:
            if _status(exc) == 404:
                return None
            raise

    def other_types(self, fqdn: str, rtype: str = "CNAME") -> list[str]:
        """The record types other than ``rtype`` that exist at the name (read concurrently)."""
        kinds = [kind for kind in OTHER_TYPES + ("CNAME",) if kind != rtype]
        found = run_concurrently({kind: (lambda kind=kind: self._get(fqdn, kind)) for kind in kinds})
        return [kind for kind in kinds if found[kind] is not None]

    def read(self, fqdn: str, rtype: str, others: bool = False) -> RecordSet:
        """The record set (values, TTL, etag, metadata; an empty set has no values but its etag);
        other types only when there is no such set and ``others`` are wanted."""
        record = self._get(fqdn, rtype)
        if record is None:
            return RecordSet(rtype, others=self.other_types(fqdn, rtype) if others else [])
        return self._state(record, rtype, f"reading the {rtype} record set of {normalize_name(fqdn)}")

    def nameservers(self, fqdn: str) -> list[NameServer]:
        """The zone's Azure name servers (from the zone resource), resolved by the system resolver."""
        return servers_from_names(list(self._zone_resource(fqdn).name_servers or []), DNS_PORT)

    # --- writes ------------------------------------------------------------------------------
    def _record_set(self, desired: RecordSet) -> Any:
        from azure.mgmt.dns import models  # pylint: disable=import-outside-toplevel  # imported by session.client

        if desired.rtype not in WRITABLE_TYPES:
            raise DnsError(f"provider azure_dns writes {', '.join(WRITABLE_TYPES)} record sets, not {desired.rtype}")
        if desired.rtype == "CNAME":
            return models.RecordSet(ttl=desired.ttl, metadata=dict(desired.metadata),
                                    cname_record=models.CnameRecord(cname=desired.value))
        return models.RecordSet(ttl=desired.ttl, metadata=dict(desired.metadata),
                                txt_records=[models.TxtRecord(value=[value[i:i + 255] for i in range(0, max(len(value), 1), 255)])
                                             for value in desired.values])

    def _write(self, action: str, fqdn: str, rtype: str, fn: Any, *args: Any, permission: str, **kwargs: Any) -> Any:
        _group, zone, name = self._locate(fqdn)
        description = f"{action} the {rtype} record set {name} in zone {zone}"
        try:
            return self._call(description, fn, *args, permission=permission, **kwargs)
        except AzureError as exc:
            if _status(exc) == 412:
                raise RaceError(f"Azure DNS refused {action} {normalize_name(fqdn)}: it changed since it was read (412)") from exc
            if _status(exc) == 409 and rtype == "CNAME":
                raise refused(others_error(normalize_name(fqdn), self.other_types(fqdn))) from exc
            status = _status(exc)
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                raise refused(exc)
            raise

    def _state(self, record: Any, rtype: str, description: str) -> RecordSet:
        """A record set Azure answered, checked: a body that is no record set of ``rtype`` is one line."""
        try:
            if rtype == "CNAME":
                target = record.cname_record.cname if record.cname_record else None
                values: tuple[str, ...] = (check_dns_name(target, "the CNAME target"),) if target else ()
            elif rtype == "TXT":
                values = tuple("".join(str(part) for part in (txt.value or [])) for txt in (record.txt_records or []))
            else:
                values = ()
            ttl, etag, metadata = record.ttl, record.etag, dict(record.metadata or {})
            if ttl is not None and not isinstance(ttl, int):
                raise TypeError("ttl")
        except (AttributeError, TypeError, ValueError, DnsError):
            raise DnsError(f"Azure answered without a valid {rtype} record set while {description} "
                           f"(got {type(record).__name__}); the write may have been applied: run the task again") from None
        return RecordSet(rtype, values, ttl, etag, metadata)

    def create(self, fqdn: str, desired: RecordSet) -> RecordSet:
        """PUT with If-None-Match: * (only if the record set does not exist)."""
        group, zone, name = self._locate(fqdn)
        record = self._write("creating", fqdn, desired.rtype, self.client.record_sets.create_or_update, group, zone, name,
                             desired.rtype, self._record_set(desired), if_none_match="*",
                             permission=_permission(desired.rtype, "write"))
        return self._state(record, desired.rtype, f"creating the {desired.rtype} record set {name} in zone {zone}")

    def replace(self, fqdn: str, current: RecordSet, desired: RecordSet) -> RecordSet:
        """PUT with If-Match: <etag read> (only if nobody changed it since)."""
        group, zone, name = self._locate(fqdn)
        record = self._write("updating", fqdn, desired.rtype, self.client.record_sets.create_or_update, group, zone, name,
                             desired.rtype, self._record_set(desired), if_match=current.etag,
                             permission=_permission(desired.rtype, "write"))
        return self._state(record, desired.rtype, f"updating the {desired.rtype} record set {name} in zone {zone}")

    def delete(self, fqdn: str, current: RecordSet) -> None:
        """DELETE with If-Match: <etag read>."""
        group, zone, name = self._locate(fqdn)
        self._write("deleting", fqdn, current.rtype, self.client.record_sets.delete, group, zone, name, current.rtype,
                    if_match=current.etag, permission=_permission(current.rtype, "delete"))
