# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEMPORARY: the DNS-01 TXT records over RFC 2136, the smallest way, until the DNS provider core lands.

RE-POINT AT MERGE: the provider-neutral DNS core (generic read/create/replace/delete of TXT record
sets through every provider, and its propagation wait) replaces this file. :class:`Rfc2136Publisher`
implements :class:`._acme.DnsPublisher`; ``_acme.py`` only knows that interface, so the merge swaps
this class for an adapter over the core and deletes this file.

``publish`` adds exactly the given TXT values (a TSIG-signed update with the prerequisite that the
zone exists, nothing else at the name is touched); the returned ``undo`` deletes exactly those
values. ``wait`` polls the given name servers (default: the zone's NS servers on ``port``, and the
server updates go to) until every one answers all the values, with an injected ``sleep``, for at most ``wait_timeout`` seconds.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ._errors import DnsError, MissingDependencyError

ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")


def _dns() -> Any:
    try:
        import dns.exception
        import dns.message
        import dns.name
        import dns.query
        import dns.rcode
        import dns.rdatatype
        import dns.tsigkeyring
        import dns.update
    except ImportError as exc:
        raise MissingDependencyError("dnspython", exc) from exc
    return dns


def parse_server(value: str, default_port: int = 53) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` as (address, port); host names resolve through the system."""
    host, port = value.strip(), default_port
    if host.startswith("["):
        host, _bracket, rest = host[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    elif host.count(":") == 1:
        host, _colon, text = host.partition(":")
        if not text.isdigit():
            raise DnsError(f"the DNS server {value!r} is not host or host:port")
        port = int(text)
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, UnicodeError) as exc:
        raise DnsError(f"cannot resolve the DNS server {host}: check server and nameservers") from exc
    return address, port


@dataclass
class Rfc2136Publisher:
    """DNS-01 TXT records on an RFC 2136 primary server (TSIG-signed updates)."""

    server: str
    port: int = 53
    key_name: str | None = None
    key_secret: str | None = None
    key_algorithm: str = "hmac-sha256"
    zone: str | None = None
    ttl: int = 60
    nameservers: list[str] = field(default_factory=list)
    wait_timeout: float = 120.0
    interval: float = 2.0
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.key_algorithm.lower() not in ALGORITHMS:
            raise DnsError(f"key_algorithm {self.key_algorithm!r} is not supported: use one of {', '.join(ALGORITHMS)}")
        if bool(self.key_name) != bool(self.key_secret):
            raise DnsError("key_name and key_secret go together: give both to sign updates with TSIG, or neither")
        self.address = parse_server(self.server, self.port)

    def _send(self, message: Any, what: str) -> Any:
        dns = _dns()
        try:
            return dns.query.tcp(message, self.address[0], port=self.address[1], timeout=self.timeout)
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"cannot {what} at {self.server}:{self.port}: {exc}") from exc

    def find_zone(self, fqdn: str) -> str:
        """The zone that holds ``fqdn``, from the SOA the server answers (or gives as authority)."""
        if self.zone:
            return self.zone.rstrip(".") + "."
        dns = _dns()
        response = self._send(dns.message.make_query(fqdn, "SOA"), f"find the zone of {fqdn}")
        for section in (response.answer, response.authority):
            for rrset in section:
                if rrset.rdtype == dns.rdatatype.SOA:
                    return rrset.name.to_text()
        raise DnsError(f"the server {self.server}:{self.port} is not authoritative for {fqdn}: give zone")

    def _update(self, zone: str) -> Any:
        dns = _dns()
        keyring = None
        if self.key_name:
            try:
                keyring = dns.tsigkeyring.from_text({self.key_name: self.key_secret})
            except (ValueError, TypeError) as exc:
                raise DnsError("key_secret is not base64 text: copy the TSIG secret again") from exc
        update = dns.update.UpdateMessage(zone, keyring=keyring,
                                          keyalgorithm=dns.name.from_text(self.key_algorithm.lower()) if keyring else None)
        update.present(zone, "SOA")
        return update

    def _apply(self, update: Any, what: str) -> None:
        dns = _dns()
        response = self._send(update, what)
        if response.rcode() != dns.rcode.NOERROR:
            raise DnsError(f"the server {self.server}:{self.port} refused to {what}: {dns.rcode.to_text(response.rcode())}"
                           " (check the TSIG key and the zone's update policy)")

    def publish(self, fqdn: str, values: list[str]) -> Callable[[], None]:
        """Add the TXT values at ``fqdn``; the returned function deletes exactly them."""
        zone = self.find_zone(fqdn)
        name = fqdn.rstrip(".") + "."
        update = self._update(zone)
        for value in values:
            update.add(name, self.ttl, "TXT", f'"{value}"')
        self._apply(update, f"add the TXT record {name}")

        def undo() -> None:
            removal = self._update(zone)
            for value in values:
                removal.delete(name, "TXT", f'"{value}"')
            self._apply(removal, f"remove the TXT record {name}")

        return undo

    def answers(self, server: tuple[str, int], fqdn: str) -> set[str]:
        """The TXT strings one server answers at ``fqdn`` (empty on NXDOMAIN, no data or no answer)."""
        dns = _dns()
        try:
            response = dns.query.udp(dns.message.make_query(fqdn, "TXT"), server[0], port=server[1],
                                     timeout=self.timeout)
        except (OSError, dns.exception.DNSException):
            return set()
        return {b"".join(rdata.strings).decode("ascii", "replace")
                for rrset in response.answer if rrset.rdtype == dns.rdatatype.TXT for rdata in rrset}

    def zone_servers(self, fqdn: str) -> list[tuple[str, int]]:
        """The zone's authoritative servers (its NS records, addresses from the server's glue or the system,
        queried on ``port``), the update server among them; the update server alone when none resolves."""
        dns = _dns()
        zone = self.find_zone(fqdn)
        response = self._send(dns.message.make_query(zone, "NS"), f"read the NS records of {zone}")
        glue = {rrset.name.to_text(): [rdata.address for rdata in rrset]
                for rrset in response.additional if rrset.rdtype == dns.rdatatype.A}
        servers = [self.address]
        for rrset in response.answer:
            if rrset.rdtype != dns.rdatatype.NS:
                continue
            for rdata in rrset:
                name = rdata.target.to_text()
                addresses = glue.get(name) or self._addresses(name)
                servers += [(address, self.port) for address in addresses if (address, self.port) not in servers]
        return servers

    def _addresses(self, name: str) -> list[str]:
        """A name server's IPv4 addresses: asked of the update server first (in-zone names), then the system."""
        dns = _dns()
        response = self._send(dns.message.make_query(name, "A"), f"resolve the name server {name}")
        found = [rdata.address for rrset in response.answer if rrset.rdtype == dns.rdatatype.A for rdata in rrset]
        if found:
            return found
        try:
            return sorted({info[4][0] for info in socket.getaddrinfo(name.rstrip("."), self.port, socket.AF_INET)})
        except OSError:
            return []

    def wait(self, fqdn: str, values: list[str]) -> None:
        """Poll until every name server answers all ``values``; a :class:`DnsError` after ``wait_timeout``."""
        servers = [parse_server(item) for item in self.nameservers] or self.zone_servers(fqdn)
        attempts = max(1, int(self.wait_timeout / self.interval) + 1)
        missing = servers
        for attempt in range(attempts):
            missing = [server for server in servers if not set(values) <= self.answers(server, fqdn)]
            if not missing:
                return
            if attempt < attempts - 1:
                self.sleep(self.interval)
        where = ", ".join(f"{host}:{port}" for host, port in missing)
        raise DnsError(f"the TXT record {fqdn} did not reach {where} within {self.wait_timeout:g} seconds: "
                       "check the zone's transfers, or raise wait_timeout")
