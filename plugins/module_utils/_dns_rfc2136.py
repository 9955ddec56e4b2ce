# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record sets on a DNS server that takes RFC 2136 dynamic updates (BIND, Windows DNS...), signed with
an HMAC TSIG key or with GSS-TSIG (Kerberos, Windows "secure only" zones; see ``_dns_gss``).

Reads are plain queries to the server; every update carries prerequisites (RFC 2136 section 2.4)
so it applies only if the name is still what was read: creation requires the set (for a CNAME: the
name) to be unused, replacement and deletion require the set to still hold the values that were
read. A failed prerequisite raises :class:`RaceError`, which the core answers by reading again once.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ._dns_core import (
    GSS_TSIG,
    KEY_ALGORITHMS,
    PROTOCOLS,
    ProviderSpec,
    RaceError,
    RecordSet,
    check_dns_name,
    check_port,
    normalize_name,
    rdata_text,
    refused,
    register,
    relative_name,
)
from ._dns_resolve import DNS_PORT, NameServer, dns_modules, is_address, query, resolve_host, zone_nameservers
from ._errors import DnsError, MissingDependencyError


_RACE_RCODES = ("YXDOMAIN", "YXRRSET", "NXDOMAIN", "NXRRSET")
_NOT_RECORDS = ("RRSIG", "NSEC", "NSEC3")


@dataclass(frozen=True)
class Rfc2136Options:
    """How to reach the primary server and sign updates."""

    server: str
    port: int = DNS_PORT
    key_name: Optional[str] = None
    key_secret: Optional[str] = None
    key_algorithm: str = "hmac-sha256"
    protocol: str = "tcp"
    timeout: float = 10.0
    zone: Optional[str] = None
    keytab: Optional[str] = None
    principal: Optional[str] = None


def _update_modules():
    dns = dns_modules()
    try:
        import dns.rdataset
        import dns.tsig
        import dns.tsigkeyring
        import dns.update
    except ImportError as exc:  # pragma: no cover - dnspython ships them
        raise MissingDependencyError("dnspython", exc) from exc
    return dns


def _given(params: Mapping[str, Any], key: str, default: Any) -> Any:
    value = params.get(key)
    return default if value is None else value


@register
class Rfc2136Provider:
    """Zones on an RFC 2136 primary server."""

    name = "rfc2136"
    conditional_writes = True
    supports_metadata = False
    spec = ProviderSpec(
        options={
            "server": {"type": "str"},
            "port": {"type": "int", "default": DNS_PORT},
            "key_name": {"type": "str", "no_log": False},
            "key_secret": {"type": "str", "no_log": True},
            "key_algorithm": {"type": "str", "default": "hmac-sha256", "choices": list(KEY_ALGORITHMS)},
            "keytab": {"type": "path"},
            "principal": {"type": "str"},
            "protocol": {"type": "str", "default": "tcp", "choices": list(PROTOCOLS)},
        },
        required=("server",),
        required_by={"key_secret": ("key_name",)},
    )

    def __init__(self, options: Rfc2136Options) -> None:
        if options.protocol not in PROTOCOLS:
            raise DnsError(f"protocol must be tcp or udp, not {options.protocol!r}")
        algorithm = str(options.key_algorithm or "").lower()
        if algorithm not in KEY_ALGORITHMS:
            raise DnsError(f"key_algorithm {options.key_algorithm!r} is not supported: use one of {', '.join(KEY_ALGORITHMS)}")
        if not str(options.server or "").strip():
            raise DnsError("provider=rfc2136 needs server (the primary name server that takes updates)")
        if algorithm == GSS_TSIG:
            if options.key_secret:
                raise DnsError("key_algorithm=gss-tsig signs with Kerberos: give keytab and principal "
                               "(or a ticket in the credential cache), not key_secret")
        else:
            if options.keytab or options.principal:
                raise DnsError("keytab and principal are for key_algorithm=gss-tsig; "
                               f"key_algorithm={algorithm} signs with key_name and key_secret")
            if bool(options.key_name) != bool(options.key_secret):
                raise DnsError("key_name and key_secret go together: give both to sign updates with TSIG, or neither")
        self.options = options
        self.algorithm = algorithm
        self.port = check_port(options.port)
        self.key_name = check_dns_name(options.key_name, "key_name") if options.key_name else None
        self.server = _server_host(options.server)
        if algorithm == GSS_TSIG:
            if is_address(self.server):
                raise DnsError(f"key_algorithm=gss-tsig needs server as the DNS server's host name, not the address "
                               f"{self.server}: its Kerberos service principal is DNS/<host name>")
            from ._dns_gss import require_gssapi  # pylint: disable=import-outside-toplevel

            require_gssapi()  # a missing optional package fails before any query
        self.where = f"{self.server}:{self.port}" if ":" not in self.server else f"[{self.server}]:{self.port}"
        self._zone = check_dns_name(options.zone, "zone") if options.zone else None
        self._address: Optional[tuple[str, int]] = None
        self._gss: Any = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None,
                    timeout: float = 10.0) -> "Rfc2136Provider":
        """The provider from the module's options (no network work)."""
        return cls(Rfc2136Options(
            timeout=timeout, server=params.get("server") or "", port=_given(params, "port", DNS_PORT),
            key_name=params.get("key_name"), key_secret=params.get("key_secret"),
            key_algorithm=_given(params, "key_algorithm", "hmac-sha256"), protocol=_given(params, "protocol", "tcp"),
            zone=params.get("zone"), keytab=params.get("keytab"), principal=params.get("principal")))

    def __enter__(self) -> "Rfc2136Provider":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing is kept open between updates."""

    def result_extras(self) -> dict[str, Any]:
        """Nothing provider-specific to report."""
        return {}

    @property
    def address(self) -> tuple[str, int]:
        """The server's IP address and port (dnspython queries addresses only); resolved on first use."""
        if self._address is None:
            addresses = resolve_host(self.server, timeout=self.options.timeout)
            if not addresses:
                raise DnsError(f"cannot resolve the DNS server {self.server} to an address: check server")
            self._address = (addresses[0], self.port)
        return self._address

    # --- reads -------------------------------------------------------------------------------
    def _query(self, qname: str, rdtype: str):
        dns = dns_modules()
        try:
            return query(self.address, qname, rdtype, self.options.timeout, tcp=self.options.protocol == "tcp" or rdtype == "ANY")
        except dns.exception.Timeout as exc:
            raise DnsError(f"the DNS server {self.where} did not answer within {self.options.timeout:g}s") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"cannot query the DNS server {self.where}: {exc}") from exc

    def zone_for(self, fqdn: str) -> str:
        """The zone given, or found by walking up from the name until the server answers SOA for it."""
        fqdn = normalize_name(fqdn)
        if self._zone:
            if fqdn != self._zone and not fqdn.endswith("." + self._zone):
                raise DnsError(f"the DNS zone {self._zone} does not contain {fqdn}")
            return self._zone
        dns = dns_modules()
        labels = fqdn.split(".")
        for index in range(len(labels) - 1):
            candidate = ".".join(labels[index:])
            response = self._query(candidate, "SOA")
            if any(rrset.rdtype == dns.rdatatype.SOA and normalize_name(rrset.name.to_text()) == candidate
                   for rrset in response.answer):
                self._zone = candidate
                return candidate
        raise DnsError(f"the DNS server {self.where} is not authoritative for any zone that contains {fqdn}; "
                       "check server and port, or give the zone")

    def read(self, fqdn: str, rtype: str, others: bool = False) -> RecordSet:
        """The ``rtype`` set at the name and (``others``) the other types there, from one query."""
        dns = dns_modules()
        fqdn = normalize_name(fqdn)
        zone = self.zone_for(fqdn)
        response = self._query(fqdn, "ANY" if others else rtype)
        if response.rcode() == dns.rcode.REFUSED:
            raise DnsError(f"the DNS server {self.where} refused to answer for {fqdn}: is it authoritative for {zone}?")
        state = RecordSet(rtype)
        for rrset in response.answer:
            if normalize_name(rrset.name.to_text()) != fqdn:
                continue
            found = dns.rdatatype.to_text(rrset.rdtype)
            if found == rtype:
                state.values, state.ttl = tuple(_value(rtype, rdata) for rdata in rrset), rrset.ttl
            elif others and found not in _NOT_RECORDS:
                state.others.append(found)
        return state

    def nameservers(self, fqdn: str) -> list[NameServer]:
        """The zone's NS servers, resolved through this server; queried on this server's port."""
        return zone_nameservers(self.zone_for(fqdn), self.address, self.port, self.options.timeout)

    # --- writes ------------------------------------------------------------------------------
    def _message(self, zone: str):
        dns = _update_modules()
        if self.algorithm == GSS_TSIG:
            from ._dns_gss import gss_keyring  # pylint: disable=import-outside-toplevel

            if self._gss is None:
                self._gss = gss_keyring(self.address, self.server, self.options.keytab, self.options.principal,
                                        self.options.timeout, tcp=True)
            keyring, keyname = self._gss
            return dns.update.UpdateMessage(zone, keyring=keyring, keyname=keyname, keyalgorithm=dns.tsig.GSS_TSIG)
        keyring = None
        if self.key_name:
            try:
                keyring = dns.tsigkeyring.from_text({self.key_name: self.options.key_secret})
            except (binascii.Error, ValueError) as exc:
                raise DnsError(f"key_secret of TSIG key {self.key_name!r} is not valid base64") from exc
        return dns.update.UpdateMessage(zone, keyring=keyring, keyname=self.key_name, keyalgorithm=self.algorithm)

    def _key(self) -> str:
        if self.algorithm == GSS_TSIG:
            return f"GSS-TSIG as {self.options.principal or 'the credential cache principal'}"
        return f"TSIG key {self.key_name!r}" if self.key_name else "no TSIG key"

    def _send(self, message, action: str, fqdn: str, zone: str) -> None:
        dns = _update_modules()
        key = self._key()
        fix = ("check the principal, its keytab and the zone's update policy" if self.algorithm == GSS_TSIG
               else "check key_name, key_secret and key_algorithm")
        try:
            send = dns.query.udp if self.options.protocol == "udp" and self.algorithm != GSS_TSIG else dns.query.tcp
            response = send(message, self.address[0], port=self.port, timeout=self.options.timeout)
        except (dns.tsig.PeerError, dns.message.UnknownTSIGKey) as exc:
            raise refused(DnsError(f"the DNS server {self.where} rejected {key} for zone {zone} ({exc}): {fix}")) from exc
        except dns.tsig.BadSignature as exc:
            raise DnsError(f"the answer of the DNS server {self.where} to {key} for zone {zone} has a bad signature "
                           f"({exc}): {fix}; the update may have been applied") from exc
        except dns.exception.Timeout as exc:
            raise DnsError(f"the DNS server {self.where} did not answer the update within {self.options.timeout:g}s") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"cannot send the update to {self.where}: {exc}") from exc
        rcode = dns.rcode.to_text(response.rcode())
        if rcode in _RACE_RCODES:
            raise RaceError(f"the update to {action} {fqdn} failed its prerequisite ({rcode})")
        if rcode == "NOTAUTH":
            raise refused(DnsError(f"the DNS server {self.where} refused {key} or is not authoritative for {zone} "
                                   f"(NOTAUTH): {fix}"))
        if rcode != "NOERROR":
            raise refused(DnsError(f"the DNS server {self.where} refused to {action} {fqdn} with {key} ({rcode}): "
                                   f"does its allow-update / update-policy for {zone} permit this key?"))

    def _prepare(self, fqdn: str):
        fqdn = normalize_name(fqdn)
        zone = self.zone_for(fqdn)
        return fqdn, zone, relative_name(fqdn, zone), self._message(zone)

    def create(self, fqdn: str, desired: RecordSet) -> RecordSet:
        """Add the set if the name holds no such set (a CNAME: if the name holds nothing at all)."""
        fqdn, zone, name, message = self._prepare(fqdn)
        if desired.rtype == "CNAME":
            message.absent(name)
        else:
            message.absent(name, desired.rtype)
        for value in desired.values:
            message.add(name, desired.ttl, desired.rtype, rdata_text(desired.rtype, value))
        self._send(message, "create", fqdn, zone)
        return RecordSet(desired.rtype, desired.values, desired.ttl)

    def replace(self, fqdn: str, current: RecordSet, desired: RecordSet) -> RecordSet:
        """Replace the set if it still holds exactly ``current.values``."""
        fqdn, zone, name, message = self._prepare(fqdn)
        message.present(name, current.rtype, *[rdata_text(current.rtype, value) for value in current.values])
        message.delete(name, current.rtype)
        for value in desired.values:
            message.add(name, desired.ttl, desired.rtype, rdata_text(desired.rtype, value))
        self._send(message, "update", fqdn, zone)
        return RecordSet(desired.rtype, desired.values, desired.ttl)

    def delete(self, fqdn: str, current: RecordSet) -> None:
        """Delete the set if it still holds exactly ``current.values``."""
        fqdn, zone, name, message = self._prepare(fqdn)
        message.present(name, current.rtype, *[rdata_text(current.rtype, value) for value in current.values])
        message.delete(name, current.rtype)
        self._send(message, "delete", fqdn, zone)


def _value(rtype: str, rdata: Any) -> str:
    if rtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rtype in ("CNAME", "NS", "PTR"):
        return normalize_name(rdata.target.to_text())
    return rdata.to_text()


def _server_host(value: str) -> str:
    """The ``server`` option: a host name or an IP address (IPv6 with or without brackets), nothing else."""
    text = str(value).strip()
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise DnsError(f"server {text[:80]!r} is not a host name or an IP address (unbalanced brackets); "
                           "give the port with the port option")
        text = text[1:-1]
    if is_address(text):
        return text
    return check_dns_name(text, "server")
