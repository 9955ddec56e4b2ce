# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record sets in an Azure DNS zone, as plain Resource Manager requests (api-version 2018-05-01).

The requests go through the session's ARM pipeline (:meth:`AzureSession.arm_json`: one token,
retries, https-only redirects), in the shapes of Microsoft's REST examples for ``Zones_List``,
``Zones_ListByResourceGroup``, ``Zones_Get``, ``RecordSets_Get``, ``RecordSets_CreateOrUpdate`` and
``RecordSets_Delete``: no ``azure-mgmt-dns`` package is imported.

Every write is conditional on what was read: creation sends ``If-None-Match: *``, update and
delete send ``If-Match: <etag>``. A 412 (someone changed the record set meanwhile) raises
:class:`RaceError` for the core to read again; a 409 (a CNAME beside other record types) becomes a
one-line message naming them. Anything Azure lists or answers is checked, within bounds, before it
is used: a zone with a malformed id or name, a record set of the wrong shape, a zone listing whose
``nextLink`` leaves https or the Resource Manager host, or a write answered without a record set is
one line, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Optional
from urllib.parse import quote

from ._azure_pipeline import PIPELINE, next_link, run_concurrently
from ._clouds import API_VERSIONS
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

if TYPE_CHECKING:  # the session is imported when a provider is made: an RFC 2136 task never loads the Azure layer
    from ._azure import AzureSession


#: Record types that cannot share a name with a CNAME (SOA only exists at the apex, which is refused).
OTHER_TYPES = ("A", "AAAA", "CAA", "MX", "NS", "PTR", "SRV", "TXT")
#: Record types this provider writes.
WRITABLE_TYPES = ("CNAME", "TXT")
#: The DNS api-version: azure-mgmt-dns's default, the newest stable one (Microsoft's RecordSets and Zones examples).
API_VERSION = API_VERSIONS["dns"]
_READ_PERMISSION = "Microsoft.Network/dnsZones/read"
#: Bounds of what an answer may hold. Azure DNS allows 250 zones per subscription by default (10,000 at most)
#: and 20 records per record set; a listing is read in at most MAX_ZONE_PAGES pages.
MAX_ZONE_PAGES = 100
MAX_ZONES = 10000
MAX_NAME_SERVERS = 16
MAX_TXT_RECORDS = 400
MAX_TXT_STRINGS = 64
MAX_TEXT = 4096  # a TXT string, a metadata key or value
MAX_METADATA = 100
MAX_ETAG = 256


class Zone(NamedTuple):
    """An Azure DNS zone as listed: its name (as Azure spells it), resource id and name servers."""

    name: str
    id: str
    name_servers: list[str]


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


def _zone_not_found(problem: str, zones: Optional[list[Zone]] = None) -> DnsError:
    """The zone-not-found failure; ``zones``: the zones that were listed (None: none were listed)."""
    details = {} if zones is None else {"zones": sorted(normalize_name(item.name) for item in zones)}
    return DnsError(f"{problem}; create the zone, or give zone and resource_group", **details)


def _checked_zone(item: Any, where: str) -> Zone:
    """A zone Azure listed or returned (its REST shape), with a DNS name, a resource id naming its group and a list
    of name servers."""
    if not isinstance(item, dict):
        raise DnsError(f"Azure listed a DNS zone that is not a JSON object in {where} (got {type(item).__name__}); "
                       "the answer is malformed")
    name, zone_id = item.get("name"), item.get("id")
    shown = f"{str(name)[:60]!r} (id {str(zone_id)[:120]!r})"
    if not isinstance(name, str):
        raise DnsError(f"Azure listed a DNS zone without a name in {where}: {shown}; the answer is malformed")
    try:
        check_dns_name(name, "zone")
    except DnsError:
        raise DnsError(f"Azure listed a DNS zone whose name is not a DNS name in {where}: {shown}") from None
    group = _resource_group(zone_id)
    if group is None or len(str(zone_id)) > 1024:
        raise DnsError(f"Azure listed the DNS zone {name[:60]!r} with a malformed resource id in {where}: {shown}")
    properties = item.get("properties") or {}
    servers = (properties.get("nameServers") or []) if isinstance(properties, dict) else None
    if not isinstance(servers, list) or len(servers) > MAX_NAME_SERVERS \
            or not all(isinstance(server, str) and 0 < len(server) <= 255 for server in servers):
        raise DnsError(f"Azure listed the DNS zone {name[:60]!r} with malformed name servers in {where}")
    return Zone(name, str(zone_id), list(servers))


def _if_match(current: RecordSet) -> dict[str, str]:
    """``If-Match: <etag>`` of the record set read (none without an etag, as the SDK sent none for ``if_match=None``)."""
    return {"If-Match": current.etag} if current.etag is not None else {}


def _txt_strings(value: str) -> list[str]:
    """A TXT value as the strings of one record: 255 characters each (the wire limit of a character-string)."""
    return [value[i:i + 255] for i in range(0, max(len(value), 1), 255)]


def record_body(desired: RecordSet) -> dict[str, Any]:
    """The JSON body of ``RecordSets_CreateOrUpdate`` for ``desired`` (a CNAME or TXT record set)."""
    if desired.rtype not in WRITABLE_TYPES:
        raise DnsError(f"provider azure_dns writes {', '.join(WRITABLE_TYPES)} record sets, not {desired.rtype}")
    properties: dict[str, Any] = {"metadata": dict(desired.metadata)}
    if desired.ttl is not None:
        properties["TTL"] = desired.ttl
    if desired.rtype == "CNAME":
        properties["CNAMERecord"] = {"cname": desired.value}
    else:
        properties["TXTRecords"] = [{"value": _txt_strings(value)} for value in desired.values]
    return {"properties": properties}


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{what} is not a string of at most {MAX_TEXT} characters")
    return value


def _values(properties: Mapping[str, Any], rtype: str) -> tuple[str, ...]:
    """The values of a record set's ``properties`` (a CNAME target, TXT texts; none for other types)."""
    if rtype == "CNAME":
        record = properties.get("CNAMERecord")
        if record is None:
            return ()
        if not isinstance(record, dict):
            raise ValueError("CNAMERecord is not an object")
        target = record.get("cname")
        if target is None or target == "":
            return ()
        if not isinstance(target, str):
            raise ValueError("CNAMERecord.cname is not a string")
        return (check_dns_name(target, "the CNAME target"),)
    if rtype == "TXT":
        records = properties.get("TXTRecords")
        if records is None:
            return ()
        if not isinstance(records, list) or len(records) > MAX_TXT_RECORDS:
            raise ValueError(f"TXTRecords is not a list of at most {MAX_TXT_RECORDS} records")
        values = []
        for record in records:
            strings = record.get("value") if isinstance(record, dict) else None
            if strings is None and isinstance(record, dict):
                strings = []
            if not isinstance(strings, list) or len(strings) > MAX_TXT_STRINGS:
                raise ValueError(f"a TXT record's value is not a list of at most {MAX_TXT_STRINGS} strings")
            values.append("".join(_text(part, "a TXT string") for part in strings))
        return tuple(values)
    return ()


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_METADATA:
        raise ValueError(f"metadata is not an object of at most {MAX_METADATA} entries")
    return {_text(key, "a metadata key"): _text(text, "a metadata value") for key, text in value.items()}


def parse_record_set(record: Any, rtype: str) -> RecordSet:
    """A ``RecordSets_Get``/``CreateOrUpdate`` answer as a :class:`RecordSet`; ValueError says what is malformed."""
    if not isinstance(record, dict):
        raise ValueError(f"got {'no body' if record is None else type(record).__name__}, not a JSON object")
    properties = record.get("properties")
    if not isinstance(properties, dict):
        raise ValueError("no properties object")
    etag = record.get("etag")
    if not isinstance(etag, str) or not 0 < len(etag) <= MAX_ETAG:
        raise ValueError("no etag")
    ttl = properties.get("TTL")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        raise ValueError("TTL is not a whole number")
    return RecordSet(rtype, _values(properties, rtype), ttl, etag, _metadata(properties.get("metadata")))


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
        self._zones: dict[str, Zone] = {}  # fqdn -> zone
        self._warm = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None,
                    retry: Any = None) -> "AzureDnsProvider":
        """The provider from the module's options: the Azure session is resolved, no request is sent."""
        from ._azure import AzureSession  # pylint: disable=import-outside-toplevel  # only when Azure DNS is used

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

    def _request(self, method: str, path: str, description: str, permission: str, **request: Any) -> Any:
        """One DNS request through the session's plain ARM pipeline (the first one builds it while the token comes)."""
        if not self._warm:
            self.session.warm_up(PIPELINE)  # the token round trips overlap the pipeline's imports
            self._warm = True
        return self.session.arm_json(method, path, API_VERSION, description=description, permission=permission,
                                     **request)

    def _zones_path(self, resource_group: Optional[str]) -> str:
        subscription = f"/subscriptions/{quote(self.session.subscription_id, safe='')}"
        if resource_group:
            return f"{subscription}/resourceGroups/{quote(resource_group, safe='')}/providers/Microsoft.Network/dnsZones"
        return f"{subscription}/providers/Microsoft.Network/dnszones"

    def _record_path(self, group: str, zone: str, rtype: str, name: str) -> str:
        return f"{self._zones_path(group)}/{quote(zone, safe='')}/{rtype}/{quote(name, safe='@*')}"

    # --- zones -------------------------------------------------------------------------------
    def _where(self, resource_group: Optional[str]) -> str:
        where = f"subscription {self.session.subscription_id}"
        return f"resource group {resource_group} of {where}" if resource_group else where

    def _list_zones(self, resource_group: Optional[str]) -> list[Zone]:
        """Every zone of the subscription (or resource group), following ``nextLink`` within bounds."""
        where = self._where(resource_group)
        description = f"listing the DNS zones of {where}"
        path, query = self._zones_path(resource_group), {}
        zones: list[Zone] = []
        for _page in range(MAX_ZONE_PAGES):
            page = self._request("GET", path, description, _READ_PERMISSION, query=query)
            items = page.get("value") if isinstance(page, dict) else None
            link = page.get("nextLink") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise DnsError(f"Azure answered without a list of DNS zones while {description} "
                               f"(got {type(page).__name__}); the answer is malformed")
            if len(zones) + len(items) > MAX_ZONES:
                raise DnsError(f"Azure listed more than {MAX_ZONES} DNS zones in {where}: give zone and resource_group")
            zones.extend(_checked_zone(item, where) for item in items)
            if not link:
                return zones
            path, query = next_link(self.session.resource_manager, link, description), {}
        raise DnsError(f"Azure's listing of the DNS zones of {where} went on for more than {MAX_ZONE_PAGES} pages: "
                       "give zone and resource_group")

    def _get_zone(self, zone: str, resource_group: str) -> Zone:
        """The zone when both zone and resource group are known: one GET, no listing."""
        where = self._where(resource_group)
        try:
            found = self._request("GET", f"{self._zones_path(resource_group)}/{quote(zone, safe='')}",
                                  f"reading the DNS zone {zone} in {where}", _READ_PERMISSION)
        except AzureError as exc:
            if _status(exc) == 404:
                raise _zone_not_found(f"the DNS zone {zone} was not found in {where}") from exc
            raise
        return _checked_zone(found, where)

    def _find_zone(self, fqdn: str) -> Zone:
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

    def _zone_resource(self, fqdn: str) -> Zone:
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
        return str(_resource_group(found.id)), zone, relative_name(fqdn, zone)

    # --- reads -------------------------------------------------------------------------------
    def _get(self, fqdn: str, rtype: str) -> Optional[Any]:
        """The record set's JSON answer, or None when there is none (404)."""
        group, zone, name = self._locate(fqdn)
        description = f"reading the {rtype} record set {name} in zone {zone}"
        try:
            return self._request("GET", self._record_path(group, zone, rtype, name), description, _READ_PERMISSION)
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
        return self._state(record, rtype, f"reading the {rtype} record set of {normalize_name(fqdn)}", write=False)

    def nameservers(self, fqdn: str) -> list[NameServer]:
        """The zone's Azure name servers (from the zone resource), resolved by the system resolver."""
        return servers_from_names(list(self._zone_resource(fqdn).name_servers), DNS_PORT)

    # --- writes ------------------------------------------------------------------------------
    def _write(self, action: str, fqdn: str, method: str, rtype: str, permission: str, **request: Any) -> Any:
        group, zone, name = self._locate(fqdn)
        description = f"{action} the {rtype} record set {name} in zone {zone}"
        try:
            return self._request(method, self._record_path(group, zone, rtype, name), description, permission, **request)
        except AzureError as exc:
            if _status(exc) == 412:
                raise RaceError(f"Azure DNS refused {action} {normalize_name(fqdn)}: it changed since it was read (412)") from exc
            if _status(exc) == 409 and rtype == "CNAME":
                raise refused(others_error(normalize_name(fqdn), self.other_types(fqdn))) from exc
            status = _status(exc)
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                raise refused(exc)
            raise

    @staticmethod
    def _state(record: Any, rtype: str, description: str, write: bool = True) -> RecordSet:
        """A record set Azure answered, checked: a body that is no record set of ``rtype`` is one line."""
        try:
            return parse_record_set(record, rtype)
        except (ValueError, DnsError) as exc:
            problem = str(exc).split(":", 1)[0] if isinstance(exc, DnsError) else str(exc)
            again = "; the write may have been applied: run the task again" if write else "; the answer is malformed"
            raise DnsError(f"Azure answered without a valid {rtype} record set while {description} ({problem[:120]})"
                           f"{again}") from None

    def create(self, fqdn: str, desired: RecordSet) -> RecordSet:
        """PUT with If-None-Match: * (only if the record set does not exist)."""
        _group, zone, name = self._locate(fqdn)
        record = self._write("creating", fqdn, "PUT", desired.rtype, _permission(desired.rtype, "write"),
                             body=record_body(desired), headers={"If-None-Match": "*"})
        return self._state(record, desired.rtype, f"creating the {desired.rtype} record set {name} in zone {zone}")

    def replace(self, fqdn: str, current: RecordSet, desired: RecordSet) -> RecordSet:
        """PUT with If-Match: <etag read> (only if nobody changed it since)."""
        _group, zone, name = self._locate(fqdn)
        record = self._write("updating", fqdn, "PUT", desired.rtype, _permission(desired.rtype, "write"),
                             body=record_body(desired), headers=_if_match(current))
        return self._state(record, desired.rtype, f"updating the {desired.rtype} record set {name} in zone {zone}")

    def delete(self, fqdn: str, current: RecordSet) -> None:
        """DELETE with If-Match: <etag read>."""
        self._write("deleting", fqdn, "DELETE", current.rtype, _permission(current.rtype, "delete"),
                    headers=_if_match(current), read_body=False)
