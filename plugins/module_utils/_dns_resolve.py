# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Propagation: ask a zone's authoritative name servers directly until they answer the CNAME.

No recursive resolver is involved: each server is queried with dnspython (non-recursive), so a
stale cache cannot make a change look done. Servers come from the zone's NS records (or from the
``nameservers`` option as ``host`` or ``host:port``); host names are resolved through a given
authoritative server first (in-zone name servers) and then through the system resolver.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ._dns_names import normalize_name
from ._errors import DnsError, MissingDependencyError

DNS_PORT = 53


@dataclass(frozen=True)
class NameServer:
    """One server to query: the name it was given as, its address and port."""

    name: str
    address: str
    port: int = DNS_PORT

    @property
    def label(self) -> str:
        """How the server is shown in results and messages."""
        where = f"{self.address}:{self.port}" if self.port != DNS_PORT else self.address
        return where if self.name == self.address else f"{self.name} ({where})"


def dns_modules():
    """Import dnspython lazily; a missing package becomes MissingDependencyError."""
    try:
        import dns.exception
        import dns.flags
        import dns.message
        import dns.name
        import dns.query
        import dns.rcode
        import dns.rdatatype
    except ImportError as exc:
        raise MissingDependencyError("dnspython", exc) from exc
    return dns


def split_host_port(value: str, default_port: int = DNS_PORT) -> tuple[str, int]:
    """``host``, ``host:port``, ``v6addr`` or ``[v6addr]:port`` -> (host, port)."""
    text = str(value).strip()
    if not text:
        raise DnsError("an empty name server was given: use 'host' or 'host:port'")
    shown = text[:80]
    if len(text) > 300:
        raise DnsError(f"the name server {shown!r}... is too long (at most 300 characters): use 'host' or 'host:port'")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")) or not is_address(host) or ":" not in host:
            raise DnsError(f"the name server {shown!r} is not '[IPv6 address]' or '[IPv6 address]:port'")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        if not is_address(text):
            raise DnsError(f"the name server {shown!r} is not a host name or an IP address: use 'host', 'host:port' "
                           "or '[IPv6 address]:port'")
        host, port_text = text, None
    else:
        host, port_text = text, None
    if not is_address(host):
        from ._dns_names import check_dns_name  # pylint: disable=import-outside-toplevel

        try:
            host = check_dns_name(host if host == host.strip() else "-", "name server")
        except DnsError:
            raise DnsError(f"the name server {shown!r} is not a host name or an IP address: use 'host' or 'host:port'") from None
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or len(port_text) > 5 or not 1 <= int(port_text) <= 65535:
        raise DnsError(f"the name server {shown!r} has an invalid port: use 'host' or 'host:port' with a port from 1 to 65535")
    return host, int(port_text)


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def query(server: tuple[str, int], qname: str, rdtype: str, timeout: float, tcp: bool = False, recursive: bool = False):
    """One query to ``server`` (non-recursive unless ``recursive``); the dnspython response (raises on network errors)."""
    dns = dns_modules()
    message = dns.message.make_query(qname, rdtype)
    if not recursive:
        message.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(message, server[0], port=server[1], timeout=timeout)
    response = dns.query.udp(message, server[0], port=server[1], timeout=timeout)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(message, server[0], port=server[1], timeout=timeout)
    return response


def _addresses_via(host: str, via: tuple[str, int] | None, timeout: float) -> list[str]:
    if via is None:
        return []
    dns = dns_modules()
    found = []
    for rdtype in ("A", "AAAA"):
        try:
            response = query(via, host, rdtype, timeout)
        except (OSError, dns.exception.DNSException):
            continue
        for rrset in response.answer:
            found.extend(rdata.address for rdata in rrset if hasattr(rdata, "address"))
    return found


def resolve_host(host: str, via: tuple[str, int] | None = None, timeout: float = 3.0) -> list[str]:
    """Addresses of ``host``: itself if an IP, else via an authoritative server, else the system resolver."""
    name = host.rstrip(".")
    if is_address(name):
        return [name]
    found = _addresses_via(name, via, timeout)
    if found:
        return found
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_UDP)
    except socket.gaierror:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def servers_from_option(values: Iterable[str], timeout: float = 3.0) -> list[NameServer]:
    """The ``nameservers`` option: each ``host`` or ``host:port`` resolved to its addresses."""
    servers = []
    for value in values:
        host, port = split_host_port(value)
        addresses = resolve_host(host, timeout=timeout)
        if not addresses:
            raise DnsError(f"the name server {host!r} does not resolve to an address")
        servers.extend(NameServer(host, address, port) for address in addresses)
    return servers


def servers_from_names(names: Iterable[str], port: int = DNS_PORT, via: tuple[str, int] | None = None,
                       timeout: float = 3.0) -> list[NameServer]:
    """Name server host names (a zone's NS targets) resolved to addresses; unresolvable names fail."""
    servers, missing = [], []
    for name in names:
        host = name.rstrip(".").lower()
        addresses = resolve_host(host, via, timeout)
        if not addresses:
            missing.append(host)
        servers.extend(NameServer(host, address, port) for address in addresses)
    if not servers:
        raise DnsError(f"none of the zone's name servers resolve to an address: {', '.join(missing) or 'none listed'}; "
                       "give them with the nameservers option")
    return servers


def zone_nameservers(zone: str, via: tuple[str, int], port: int = DNS_PORT, timeout: float = 3.0) -> list[NameServer]:
    """The zone's authoritative servers from its NS records, asked of ``via``."""
    dns = dns_modules()
    try:
        response = query(via, zone, "NS", timeout)
    except (OSError, dns.exception.DNSException) as exc:
        raise DnsError(f"cannot read the NS records of {zone} from {via[0]}:{via[1]}: {exc}") from exc
    names = [rdata.target.to_text() for rrset in response.answer
             if rrset.rdtype == dns.rdatatype.NS for rdata in rrset]
    if not names:
        raise DnsError(f"the zone {zone} has no NS records on {via[0]}:{via[1]}; give the servers with the nameservers option")
    return servers_from_names(names, port, via, timeout)


def _cname_answer(response: Any, fqdn: str) -> tuple[str, int | None, bool]:
    """(answer, seconds it may stay cached, negative) from a response to ``fqdn CNAME``."""
    dns = dns_modules()
    soa_ttl = next((min(rrset.ttl, rrset[0].minimum) for rrset in response.authority
                    if rrset.rdtype == dns.rdatatype.SOA and len(rrset)), None)
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return dns.rcode.to_text(rcode), soa_ttl if rcode == dns.rcode.NXDOMAIN else None, rcode == dns.rcode.NXDOMAIN
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and normalize_name(rrset.name.to_text()) == normalize_name(fqdn):
            return normalize_name(rrset[0].target.to_text()), rrset.ttl, False
    return "no CNAME", soa_ttl, True


def answered_target(server: NameServer, fqdn: str, timeout: float) -> str:
    """What ``server`` answers for the CNAME at ``fqdn``: the target, or a short description."""
    return _ask(server, fqdn, timeout, recursive=False)[0]


def _ask(server: NameServer, fqdn: str, timeout: float, recursive: bool) -> tuple[str, int | None, bool]:
    dns = dns_modules()
    try:
        response = query((server.address, server.port), fqdn, "CNAME", timeout, recursive=recursive)
    except dns.exception.Timeout:
        return "no answer (timeout)", None, False
    except (OSError, dns.exception.DNSException) as exc:
        return f"error ({exc})", None, False
    return _cname_answer(response, fqdn)


def _matches(answer: str, target: str | None) -> bool:
    if target is None:
        return answer in ("NXDOMAIN", "no CNAME")
    return answer == normalize_name(target)


def _poll(servers: list[NameServer], ask: Callable[[NameServer], tuple[str, int | None, bool]], target: str | None,
          timeout: float, interval: float, clock: Callable[[], float], sleep: Callable[[float], None],
          matches: Callable[[str], bool] | None = None,
          ) -> tuple[list[dict[str, Any]], dict[NameServer, tuple[str, int | None, bool]]]:
    """Ask every server until each answers ``target`` (or what ``matches`` accepts) or the deadline passes:
    (results, pending answers)."""
    deadline = clock() + timeout
    done: dict[NameServer, str] = {}
    pending: dict[NameServer, tuple[str, int | None, bool]] = {}
    while True:
        for server in [item for item in servers if item not in done]:
            answer = ask(server)
            if matches(answer[0]) if matches else _matches(answer[0], target):
                done[server] = answer[0]
                pending.pop(server, None)
            else:
                pending[server] = answer
        if not pending or clock() >= deadline:
            break
        sleep(min(interval, max(0.0, deadline - clock())))
    results = [{"server": server.label, "answer": done[server] if server in done else pending[server][0],
                "ok": server in done} for server in servers]
    return results, pending


def wait_for_cname(fqdn: str, target: str | None, servers: list[NameServer], timeout: float,
                   interval: float = 0.5, clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> list[dict[str, object]]:
    """Query every server (non-recursive) until each answers ``fqdn CNAME target`` (``target`` None: no CNAME).

    Returns one ``{server, answer, ok}`` per server; raises DnsError on timeout listing what each
    server still answers.
    """
    per_query = min(2.0, max(timeout, 0.2))
    results, pending = _poll(servers, lambda server: _ask(server, fqdn, per_query, False), target, timeout, interval,
                             clock, sleep)
    if pending:
        wanted = f"CNAME {normalize_name(target)}" if target else "no CNAME"
        still = "; ".join(f"{server.label} answers {answer[0]}" for server, answer in pending.items())
        raise DnsError(f"{fqdn} did not propagate within {timeout:g}s (wanted {wanted}): {still}", propagation=results)
    return results


def wait_for_resolvers(fqdn: str, target: str | None, resolvers: list[NameServer], timeout: float,
                       interval: float = 0.5, clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> list[dict[str, object]]:
    """Ask recursive resolvers (RD set) until each answers ``fqdn CNAME target``, like :func:`wait_for_cname`.

    A resolver that still holds an old answer is reported with how long it may keep it: the TTL
    left on the old CNAME, or for a cached "no such name" the negative-caching time (the zone's SOA
    minimum, RFC 2308). Each result is ``{resolver, answer, ok, cached_for, negative}``.
    """
    per_query = min(5.0, max(timeout, 0.5))
    results, pending = _poll(resolvers, lambda server: _ask(server, fqdn, per_query, True), target, timeout, interval,
                             clock, sleep)
    answers = {server.label: pending.get(server) for server in resolvers}
    resolution = []
    for entry in results:
        held = answers.get(str(entry["server"]))
        resolution.append({"resolver": entry["server"], "answer": entry["answer"], "ok": entry["ok"],
                           "cached_for": held[1] if held else None, "negative": bool(held and held[2])})
    if pending:
        wanted = f"CNAME {normalize_name(target)}" if target else "no CNAME"
        still = "; ".join(_stale(server.label, answer) for server, answer in pending.items())
        raise DnsError(f"{fqdn} does not resolve as wanted through the resolvers within {timeout:g}s (wanted {wanted}): "
                       f"{still}", resolution=resolution)
    return resolution


def _stale(label: str, answer: tuple[str, int | None, bool]) -> str:
    text, ttl, negative = answer
    if ttl is None:
        return f"{label} answers {text}"
    why = "negative caching: the zone's SOA minimum" if negative else "the old record's TTL"
    return f"{label} still holds the old answer {text} for up to {ttl} s ({why})"


def txt_text(values: Iterable[str]) -> str:
    """TXT values as one comparable line: each quoted, sorted (how the TXT wait shows and compares answers)."""
    return " ".join(f'"{value}"' for value in sorted(set(values)))


def _txt_answer(response: Any, fqdn: str) -> str:
    """What a response to ``fqdn TXT`` holds: :func:`txt_text` of the values, ``no TXT``, or the rcode."""
    dns = dns_modules()
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return dns.rcode.to_text(rcode)
    values = [b"".join(rdata.strings).decode("utf-8", "replace") for rrset in response.answer
              if rrset.rdtype == dns.rdatatype.TXT and normalize_name(rrset.name.to_text()) == normalize_name(fqdn)
              for rdata in rrset]
    return txt_text(values) if values else "no TXT"


def _ask_txt(server: NameServer, fqdn: str, timeout: float) -> tuple[str, int | None, bool]:
    dns = dns_modules()
    try:
        response = query((server.address, server.port), fqdn, "TXT", timeout)
    except dns.exception.Timeout:
        return "no answer (timeout)", None, False
    except (OSError, dns.exception.DNSException) as exc:
        return f"error ({exc})", None, False
    return _txt_answer(response, fqdn), None, False


def wait_for_txt(fqdn: str, values: Iterable[str], servers: list[NameServer], timeout: float,
                 interval: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> list[dict[str, object]]:
    """Query every server (non-recursive) until each answers exactly the TXT ``values`` at ``fqdn`` (an ACME
    DNS-01 challenge); one ``{server, answer, ok}`` per server; a DnsError on timeout naming what each still answers."""
    wanted = txt_text(values)
    per_query = min(2.0, max(timeout, 0.2))
    results, pending = _poll(servers, lambda server: _ask_txt(server, fqdn, per_query), None, timeout, interval,
                             clock, sleep, matches=lambda answer: answer == wanted)
    if pending:
        still = "; ".join(f"{server.label} answers {answer[0]}" for server, answer in pending.items())
        raise DnsError(f"the TXT record {fqdn} did not reach the zone's name servers within {timeout:g}s "
                       f"(wanted {wanted}): {still}; check the zone's transfers, or raise wait_timeout",
                       propagation=results)
    return results
