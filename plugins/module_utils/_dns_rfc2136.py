# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNAME on a DNS server that takes RFC 2136 dynamic updates signed with TSIG (BIND, Windows DNS...).

Reads are plain queries to the server; every update carries prerequisites (RFC 2136 section 2.4)
so it applies only if the name is still what was read: creation requires the name to be unused,
replacement and deletion require the CNAME to still point at the target that was read. A failed
prerequisite raises :class:`RaceError`, which the core answers by reading again once.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Optional

from ._cname import Desired, RaceError, RecordState, record_name_in
from ._dns_resolve import NameServer, dns_modules, normalize_name, query, resolve_host, zone_nameservers
from ._errors import DnsError, MissingDependencyError

ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")
PROTOCOLS = ("tcp", "udp")
_RACE_RCODES = ("YXDOMAIN", "YXRRSET", "NXDOMAIN", "NXRRSET")


@dataclass(frozen=True)
class Rfc2136Options:
    """How to reach the primary server and sign updates."""

    server: str
    port: int = 53
    key_name: Optional[str] = None
    key_secret: Optional[str] = None
    key_algorithm: str = "hmac-sha256"
    protocol: str = "tcp"
    timeout: float = 10.0


def _update_modules():
    dns = dns_modules()
    try:
        import dns.tsig
        import dns.tsigkeyring
        import dns.update
    except ImportError as exc:  # pragma: no cover - dnspython ships them
        raise MissingDependencyError("dnspython", exc) from exc
    return dns


class Rfc2136Provider:
    """A zone on an RFC 2136 primary server."""

    name = "rfc2136"
    supports_metadata = False

    def __init__(self, options: Rfc2136Options, fqdn: str, zone: Optional[str] = None) -> None:
        if options.protocol not in PROTOCOLS:
            raise DnsError(f"protocol must be tcp or udp, not {options.protocol!r}")
        if options.key_algorithm.lower() not in ALGORITHMS:
            raise DnsError(f"key_algorithm {options.key_algorithm!r} is not supported: use one of {', '.join(ALGORITHMS)}")
        if bool(options.key_name) != bool(options.key_secret):
            raise DnsError("key_name and key_secret go together: give both to sign updates with TSIG, or neither")
        self.options = options
        self.fqdn = normalize_name(fqdn)
        self.where = f"{options.server}:{options.port}"
        self.address = (self._server_address(), options.port)
        self.zone = normalize_name(zone) if zone else self.find_zone()
        self.record_name = record_name_in(self.fqdn, self.zone)

    def _server_address(self) -> str:
        """The server's IP address (dnspython queries addresses only); the name is kept for messages."""
        addresses = resolve_host(self.options.server, timeout=self.options.timeout)
        if not addresses:
            raise DnsError(f"cannot resolve the DNS server {self.options.server} to an address: check server")
        return addresses[0]

    # --- reads -------------------------------------------------------------------------------
    def _query(self, qname: str, rdtype: str):
        dns = dns_modules()
        try:
            return query(self.address, qname, rdtype, self.options.timeout, tcp=self.options.protocol == "tcp" or rdtype == "ANY")
        except dns.exception.Timeout as exc:
            raise DnsError(f"the DNS server {self.where} did not answer within {self.options.timeout:g}s") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"cannot query the DNS server {self.where}: {exc}") from exc

    def find_zone(self) -> str:
        """The zone that holds the name: walk up from the name until the server answers SOA for it."""
        dns = dns_modules()
        labels = self.fqdn.split(".")
        for index in range(len(labels) - 1):
            candidate = ".".join(labels[index:])
            response = self._query(candidate, "SOA")
            if any(rrset.rdtype == dns.rdatatype.SOA and normalize_name(rrset.name.to_text()) == candidate
                   for rrset in response.answer):
                return candidate
        raise DnsError(f"the DNS server {self.where} is not authoritative for any zone that contains {self.fqdn}; "
                       "check server and port, or give the zone")

    def read(self, others: bool = True) -> RecordState:
        """The CNAME at the name and (``others``) the other record types there, from one ANY query."""
        dns = dns_modules()
        response = self._query(self.fqdn, "ANY")
        if response.rcode() == dns.rcode.REFUSED:
            raise DnsError(f"the DNS server {self.where} refused to answer for {self.fqdn}: is it authoritative for {self.zone}?")
        state = RecordState()
        for rrset in response.answer:
            if normalize_name(rrset.name.to_text()) != self.fqdn:
                continue
            if rrset.rdtype == dns.rdatatype.CNAME:
                state.target, state.ttl = normalize_name(rrset[0].target.to_text()), rrset.ttl
            elif others and rrset.rdtype not in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3):
                state.others.append(dns.rdatatype.to_text(rrset.rdtype))
        return state

    def nameservers(self) -> list[NameServer]:
        """The zone's NS servers, resolved through this server; queried on this server's port."""
        return zone_nameservers(self.zone, self.address, self.options.port, self.options.timeout)

    # --- writes ------------------------------------------------------------------------------
    def _message(self):
        dns = _update_modules()
        keyring = None
        if self.options.key_name:
            try:
                keyring = dns.tsigkeyring.from_text({self.options.key_name: self.options.key_secret})
            except (binascii.Error, ValueError) as exc:
                raise DnsError(f"key_secret of TSIG key {self.options.key_name!r} is not valid base64") from exc
        return dns.update.UpdateMessage(self.zone, keyring=keyring, keyname=self.options.key_name,
                                        keyalgorithm=self.options.key_algorithm.lower())

    def _send(self, message, action: str) -> None:
        dns = _update_modules()
        key = f"TSIG key {self.options.key_name!r}" if self.options.key_name else "no TSIG key"
        try:
            send = dns.query.udp if self.options.protocol == "udp" else dns.query.tcp
            response = send(message, self.address[0], port=self.options.port, timeout=self.options.timeout)
        except (dns.tsig.PeerError, dns.tsig.BadSignature, dns.message.UnknownTSIGKey) as exc:
            raise DnsError(f"the DNS server {self.where} rejected {key} for zone {self.zone} ({exc}): "
                           "check key_name, key_secret and key_algorithm") from exc
        except dns.exception.Timeout as exc:
            raise DnsError(f"the DNS server {self.where} did not answer the update within {self.options.timeout:g}s") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"cannot send the update to {self.where}: {exc}") from exc
        rcode = dns.rcode.to_text(response.rcode())
        if rcode in _RACE_RCODES:
            raise RaceError(f"the update to {action} {self.fqdn} failed its prerequisite ({rcode})")
        if rcode == "NOTAUTH":
            raise DnsError(f"the DNS server {self.where} refused {key} or is not authoritative for {self.zone} (NOTAUTH)")
        if rcode != "NOERROR":
            raise DnsError(f"the DNS server {self.where} refused to {action} {self.fqdn} with {key} ({rcode}): "
                           f"does its allow-update / update-policy for {self.zone} permit this key?")

    def create(self, desired: Desired) -> RecordState:
        """Add the CNAME if the name holds no records at all."""
        message = self._message()
        message.absent(self.record_name)
        message.add(self.record_name, desired.ttl, "CNAME", desired.target + ".")
        self._send(message, "create")
        return RecordState(desired.target, desired.ttl)

    def replace(self, current: RecordState, desired: Desired) -> RecordState:
        """Point the CNAME at the desired target and TTL if it still points at ``current.target``."""
        message = self._message()
        message.present(self.record_name, "CNAME", current.target + ".")
        message.delete(self.record_name, "CNAME")
        message.add(self.record_name, desired.ttl, "CNAME", desired.target + ".")
        self._send(message, "update")
        return RecordState(desired.target, desired.ttl)

    def delete(self, current: RecordState) -> None:
        """Delete the CNAME if it still points at ``current.target``."""
        message = self._message()
        message.present(self.record_name, "CNAME", current.target + ".")
        message.delete(self.record_name, "CNAME")
        self._send(message, "delete")
