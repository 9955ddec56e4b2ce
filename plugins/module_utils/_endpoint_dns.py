# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolution as a client does it, for cmg_endpoint_info: the CNAME chain and the addresses at its end.

:func:`resolve_via` asks given servers with recursion desired (a recursive resolver resolves, a server
authoritative for the zones answers them), follows at most :data:`MAX_CNAME_HOPS` CNAMEs, and tries each
server once per question with ``timeout`` seconds. :func:`resolve_system` asks the host's own resolver.
Both raise :class:`CmgError` with one line that says what was missing. dnspython is imported lazily.
"""

from __future__ import annotations

import socket
from typing import Any

from ._dns_resolve import dns_modules, normalize_name
from ._errors import CmgError

MAX_CNAME_HOPS = 8
MAX_ADDRESSES = 4


def _ask(server: Any, name: str, rdtype: str, timeout: float) -> Any:
    """One recursive-desired query: a recursive resolver resolves, an authoritative server answers its zones."""
    dns = dns_modules()
    message = dns.message.make_query(name, rdtype)
    response = dns.query.udp(message, server.address, port=server.port, timeout=timeout)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(message, server.address, port=server.port, timeout=timeout)
    return response


def _answer(servers: list[Any], name: str, rdtype: str, timeout: float) -> tuple[Any, str]:
    """The first server's usable answer (NOERROR or NXDOMAIN), trying each server once."""
    dns = dns_modules()
    problems = []
    for server in servers:
        try:
            response = _ask(server, name, rdtype, timeout)
        except dns.exception.Timeout:
            problems.append(f"{server.label}: no answer within {timeout:g}s")
            continue
        except (OSError, dns.exception.DNSException) as exc:
            problems.append(f"{server.label}: {exc}")
            continue
        if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return response, server.label
        problems.append(f"{server.label}: {dns.rcode.to_text(response.rcode())}")
    raise CmgError(f"no name server answered for {name}: {'; '.join(problems)}")


def resolve_via(servers: list[Any], service: str, timeout: float) -> dict[str, Any]:
    """Follow ``service``'s CNAME chain and read the addresses at its end, from ``servers``."""
    dns = dns_modules()
    name, chain = normalize_name(service), []
    for _hop in range(MAX_CNAME_HOPS):
        for rdtype in ("A", "AAAA"):
            response, label = _answer(servers, name, rdtype, timeout)
            if response.rcode() == dns.rcode.NXDOMAIN and not response.answer:
                raise CmgError(f"{name} does not exist (NXDOMAIN from {label})")
            cnames, addresses = {}, {}
            for rrset in response.answer:
                owner = normalize_name(rrset.name.to_text())
                if rrset.rdtype == dns.rdatatype.CNAME:
                    cnames[owner] = normalize_name(rrset[0].target.to_text())
                elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    addresses.setdefault(owner, []).extend(rdata.address for rdata in rrset)
            moved = False
            while name in cnames and len(chain) < MAX_CNAME_HOPS:
                name = cnames.pop(name)
                chain.append(name)
                moved = True
            if addresses.get(name):
                return {"cname_chain": chain, "addresses": addresses[name][:MAX_ADDRESSES], "answered_by": label}
            if moved:
                break  # ask again for the new name
        else:
            raise CmgError(f"{name} has no A or AAAA record (asked {label})")
    raise CmgError(f"{service} has a CNAME chain longer than {MAX_CNAME_HOPS} names")


def resolve_system(service: str, port: int) -> dict[str, Any]:
    """The host's own resolver (what this machine's clients see): canonical name and addresses."""
    try:
        infos = socket.getaddrinfo(service, port, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME)
    except (socket.gaierror, UnicodeError) as exc:
        raise CmgError(f"{service} does not resolve on the host that runs the task: {exc}") from None
    canonical = normalize_name(infos[0][3]) if infos and infos[0][3] else None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))[:MAX_ADDRESSES]
    chain = [canonical] if canonical and canonical != normalize_name(service) else []
    return {"cname_chain": chain, "addresses": addresses, "answered_by": "the system resolver"}
