# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNAME in an Azure DNS zone, through azure-mgmt-dns (record sets api-version 2018-05-01).

Every write is conditional on what was read: creation sends ``If-None-Match: *``, update and
delete send ``If-Match: <etag>``. A 412 (someone changed the record set meanwhile) raises
:class:`RaceError` for the core to read again; a 409 (a CNAME beside other record types) becomes a
one-line message naming them.
"""

from __future__ import annotations

from typing import Any, Optional

from ._azure import AzureSession, run_concurrently
from ._cname import Desired, RaceError, RecordState, _others_error, record_name_in
from ._dns_resolve import DNS_PORT, NameServer, normalize_name, servers_from_names
from ._errors import AzureError, DnsError

#: Record types that cannot share a name with a CNAME (SOA only exists at the apex, which is refused).
OTHER_TYPES = ("A", "AAAA", "CAA", "MX", "NS", "PTR", "SRV", "TXT")
_WRITE_PERMISSION = "Microsoft.Network/dnsZones/CNAME/write"
_DELETE_PERMISSION = "Microsoft.Network/dnsZones/CNAME/delete"
_READ_PERMISSION = "Microsoft.Network/dnsZones/read"


def _status(exc: AzureError) -> Optional[int]:
    status = exc.details.get("status_code")
    return int(status) if isinstance(status, int) else None


def _resource_group(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [part.lower() for part in parts]
    return parts[lowered.index("resourcegroups") + 1]


def _zone_contains(zone: str, fqdn: str) -> bool:
    return fqdn == zone or fqdn.endswith("." + zone)


def _zone_not_found(problem: str, zones: Optional[list[Any]] = None) -> DnsError:
    """The zone-not-found failure; ``zones``: the zones that were listed (None: none were listed)."""
    details = {} if zones is None else {"zones": sorted(normalize_name(item.name) for item in zones)}
    return DnsError(f"{problem}; create the zone, or give zone and resource_group", **details)


class AzureDnsProvider:
    """A zone in Azure DNS."""

    name = "azure_dns"
    supports_metadata = True

    def __init__(self, session: AzureSession, fqdn: str, zone: Optional[str] = None,
                 resource_group: Optional[str] = None) -> None:
        self.session = session
        self.fqdn = normalize_name(fqdn)
        session.warm_up("dns")  # the token round trips overlap the SDK import
        self.client = session.client("dns")
        found = self._find_zone(normalize_name(zone) if zone else None, resource_group)
        self.zone = normalize_name(found.name)
        self.resource_group = _resource_group(found.id)
        self.name_servers = list(found.name_servers or [])
        self.record_name = record_name_in(self.fqdn, self.zone)

    # --- zones -------------------------------------------------------------------------------
    def _where(self, resource_group: Optional[str]) -> str:
        where = f"subscription {self.session.subscription_id}"
        return f"resource group {resource_group} of {where}" if resource_group else where

    def _list_zones(self, resource_group: Optional[str]) -> list[Any]:
        zones = self.client.zones
        if resource_group:
            return self.session.call(f"listing the DNS zones of {self._where(resource_group)}",
                                     lambda: list(zones.list_by_resource_group(resource_group)), permission=_READ_PERMISSION)
        return self.session.call(f"listing the DNS zones of {self._where(None)}", lambda: list(zones.list()),
                                 permission=_READ_PERMISSION)

    def _get_zone(self, zone: str, resource_group: str) -> Any:
        """The zone when both zone and resource group are known: one GET, no listing."""
        try:
            return self.session.call(f"reading the DNS zone {zone} in {self._where(resource_group)}", self.client.zones.get,
                                     resource_group, zone, permission=_READ_PERMISSION)
        except AzureError as exc:
            if _status(exc) == 404:
                raise _zone_not_found(f"the DNS zone {zone} was not found in {self._where(resource_group)}") from exc
            raise

    def _find_zone(self, zone: Optional[str], resource_group: Optional[str]) -> Any:
        if zone and not _zone_contains(zone, self.fqdn):
            raise DnsError(f"the DNS zone {zone} does not contain {self.fqdn}")
        if zone and resource_group:
            return self._get_zone(zone, resource_group)
        zones = self._list_zones(resource_group)
        if zone:
            matching = [item for item in zones if normalize_name(item.name) == zone]
        else:
            matching = [item for item in zones if _zone_contains(normalize_name(item.name), self.fqdn)]
        if not matching:
            problem = (f"the DNS zone {zone} was not found in {self._where(resource_group)}" if zone
                       else f"no Azure DNS zone in {self._where(resource_group)} contains {self.fqdn}")
            raise _zone_not_found(problem, zones)
        longest = max(len(item.name) for item in matching)
        best = [item for item in matching if len(item.name) == longest]
        if len(best) > 1:
            groups = ", ".join(sorted(_resource_group(item.id) for item in best))
            raise DnsError(f"the DNS zone {normalize_name(best[0].name)} exists in several resource groups ({groups}): "
                           "give resource_group")
        return best[0]

    # --- reads -------------------------------------------------------------------------------
    def _get(self, record_type: str) -> Optional[Any]:
        description = f"reading the {record_type} record set {self.record_name} in zone {self.zone}"
        try:
            return self.session.call(description, self.client.record_sets.get, self.resource_group, self.zone,
                                     self.record_name, record_type, permission=_READ_PERMISSION)
        except AzureError as exc:
            if _status(exc) == 404:
                return None
            raise

    def other_types(self) -> list[str]:
        """The record types other than CNAME that exist at the name (read concurrently)."""
        found = run_concurrently({rtype: (lambda rtype=rtype: self._get(rtype)) for rtype in OTHER_TYPES})
        return [rtype for rtype in OTHER_TYPES if found[rtype] is not None]

    def read(self, others: bool = True) -> RecordState:
        """The CNAME record set (target, TTL, etag, metadata; an empty record set has no target but its etag);
        other types only when there is no CNAME record set and ``others`` are wanted."""
        record = self._get("CNAME")
        if record is None:
            return RecordState(others=self.other_types() if others else [])
        target = record.cname_record.cname if record.cname_record else None
        return RecordState(normalize_name(target), record.ttl, record.etag, dict(record.metadata or {}))

    def nameservers(self) -> list[NameServer]:
        """The zone's Azure name servers (from the zone resource), resolved by the system resolver."""
        return servers_from_names(self.name_servers, DNS_PORT)

    # --- writes ------------------------------------------------------------------------------
    def _record_set(self, desired: Desired) -> Any:
        from azure.mgmt.dns import models  # pylint: disable=import-outside-toplevel  # imported by session.client

        return models.RecordSet(ttl=desired.ttl, metadata=dict(desired.metadata),
                                cname_record=models.CnameRecord(cname=desired.target))

    def _write(self, action: str, fn: Any, *args: Any, permission: str, **kwargs: Any) -> Any:
        description = f"{action} the CNAME record set {self.record_name} in zone {self.zone}"
        try:
            return self.session.call(description, fn, *args, permission=permission, **kwargs)
        except AzureError as exc:
            if _status(exc) == 412:
                raise RaceError(f"Azure DNS refused {action} {self.fqdn}: it changed since it was read (412)") from exc
            if _status(exc) == 409:
                raise _others_error(self.fqdn, self.other_types()) from exc
            raise

    def _state(self, record: Any) -> RecordState:
        return RecordState(normalize_name(record.cname_record.cname), record.ttl, record.etag, dict(record.metadata or {}))

    def create(self, desired: Desired) -> RecordState:
        """PUT with If-None-Match: * (only if the record set does not exist)."""
        record = self._write("creating", self.client.record_sets.create_or_update, self.resource_group, self.zone,
                             self.record_name, "CNAME", self._record_set(desired), if_none_match="*",
                             permission=_WRITE_PERMISSION)
        return self._state(record)

    def replace(self, current: RecordState, desired: Desired) -> RecordState:
        """PUT with If-Match: <etag read> (only if nobody changed it since)."""
        record = self._write("updating", self.client.record_sets.create_or_update, self.resource_group, self.zone,
                             self.record_name, "CNAME", self._record_set(desired), if_match=current.etag,
                             permission=_WRITE_PERMISSION)
        return self._state(record)

    def delete(self, current: RecordState) -> None:
        """DELETE with If-Match: <etag read>."""
        self._write("deleting", self.client.record_sets.delete, self.resource_group, self.zone, self.record_name,
                    "CNAME", if_match=current.etag, permission=_DELETE_PERMISSION)
