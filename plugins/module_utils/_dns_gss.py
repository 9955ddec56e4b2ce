# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GSS-TSIG (RFC 3645) for the RFC 2136 provider: a Kerberos security context negotiated with the DNS
server through TKEY, then used by dnspython's ``GSSTSigAdapter`` to sign the updates.

This is what Windows DNS requires for Active Directory-integrated zones set to "Secure only"
dynamic updates. Credentials come from a keytab (``keytab`` and ``principal``: the initial ticket
is obtained into a private in-memory cache, nothing is written to the user's ccache) or from the
Kerberos credential cache of the user that runs the task. The server's service principal is
``DNS/<server host name>``, so the server must be given by name. ``gssapi`` is imported lazily:
without it the task fails with the missing-library message.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Optional

from ._errors import DnsError, MissingDependencyError

_MAX_ROUNDS = 8  # a Kerberos exchange takes one or two; more is a server that misbehaves


def require_gssapi() -> Any:
    """The gssapi module; MissingDependencyError("gssapi") when it is not installed."""
    return _gssapi()


def _gssapi() -> Any:
    try:
        import gssapi  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise MissingDependencyError("gssapi", exc) from exc
    return gssapi


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def _credentials(gssapi: Any, keytab: Optional[str], principal: Optional[str]) -> Any:
    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal) if principal else None
    if keytab:
        store = {"client_keytab": keytab, "ccache": f"MEMORY:cmg-{uuid.uuid4().hex}"}
        return gssapi.Credentials(name=name, usage="initiate", store=store)
    return gssapi.Credentials(name=name, usage="initiate")


def _tkey_query(dns: Any, keyname: Any, token: bytes, keyring: Any) -> Any:
    import dns.rdtypes.ANY.TKEY  # pylint: disable=import-outside-toplevel

    now = int(time.time())
    tkey = dns.rdtypes.ANY.TKEY.TKEY(dns.rdataclass.ANY, dns.rdatatype.TKEY, dns.tsig.GSS_TSIG, now, now + 3600,
                                     3, dns.rcode.NOERROR, token, b"")  # mode 3: GSS-API negotiation
    query = dns.message.make_query(keyname, dns.rdatatype.TKEY, dns.rdataclass.ANY)
    query.find_rrset(query.additional, keyname, dns.rdataclass.ANY, dns.rdatatype.TKEY, create=True).add(tkey)
    query.keyring = keyring  # the last answer is signed with the new context: dnspython steps and verifies it
    return query


def gss_keyring(address: tuple[str, int], server: str, keytab: Optional[str], principal: Optional[str],
                timeout: float, tcp: bool = True) -> tuple[Any, Any]:
    """Negotiate a GSS-TSIG context with the DNS server; returns (keyring, key name) for ``UpdateMessage``.

    Every failure is one line that says what to fix: a missing or unreadable keytab, a principal the
    KDC does not know, an expired ticket, a server without the ``DNS/<server>`` service principal.
    """
    gssapi = _gssapi()
    import dns.exception  # pylint: disable=import-outside-toplevel
    import dns.message  # pylint: disable=import-outside-toplevel
    import dns.name  # pylint: disable=import-outside-toplevel
    import dns.query  # pylint: disable=import-outside-toplevel
    import dns.rdataclass  # pylint: disable=import-outside-toplevel
    import dns.rcode  # pylint: disable=import-outside-toplevel
    import dns.rdatatype  # pylint: disable=import-outside-toplevel
    import dns.tsig  # pylint: disable=import-outside-toplevel

    who = principal or "the default principal of the credential cache"
    service = f"DNS/{server}"
    try:
        credentials = _credentials(gssapi, keytab, principal)
        context = gssapi.SecurityContext(name=gssapi.Name(f"DNS@{server}", gssapi.NameType.hostbased_service),
                                         creds=credentials, usage="initiate")
        token = context.step()
    except gssapi.exceptions.GSSError as exc:
        source = f"keytab {keytab}" if keytab else "the Kerberos credential cache (KRB5CCNAME)"
        raise DnsError(f"GSS-TSIG: no Kerberos ticket for {who} to {service} from {source} ({_first_line(exc)}): "
                       "check principal and keytab, renew the ticket (kinit), and that the DNS server's service "
                       f"principal {service} exists") from None
    keyname = dns.name.from_text(f"{uuid.uuid4().hex}.cmg-gss-tsig")
    keyring = dns.tsig.GSSTSigAdapter({keyname: dns.tsig.Key(keyname, context, dns.tsig.GSS_TSIG)})
    send = dns.query.tcp if tcp else dns.query.udp
    for _round in range(_MAX_ROUNDS):
        try:
            response = send(_tkey_query(dns, keyname, token, keyring), address[0], port=address[1], timeout=timeout)
        except gssapi.exceptions.GSSError as exc:
            raise DnsError(f"GSS-TSIG: the DNS server {server} did not accept the Kerberos ticket of {who} "
                           f"({_first_line(exc)}): check that the server's keytab holds {service}") from None
        except (OSError, dns.exception.DNSException) as exc:
            raise DnsError(f"GSS-TSIG: the key exchange (TKEY) with the DNS server {server} failed ({_first_line(exc)}); "
                           f"is it configured for GSS-TSIG (Windows DNS, or BIND's tkey-gssapi-keytab)?") from None
        answer = response.find_rrset(response.answer, keyname, dns.rdataclass.ANY, dns.rdatatype.TKEY, create=True)
        if response.rcode() != dns.rcode.NOERROR or not answer or answer[0].error != 0:
            code = dns.rcode.to_text(response.rcode()) if response.rcode() else f"TKEY error {answer[0].error if answer else '?'}"
            raise DnsError(f"GSS-TSIG: the DNS server {server} refused the key exchange for {who} ({code}): check "
                           f"that it accepts GSS-TSIG and that its keytab holds {service}")
        if context.complete:
            return keyring, keyname
        token = context.step(answer[0].key)
        if context.complete and not token:
            return keyring, keyname
    raise DnsError(f"GSS-TSIG: the key exchange with the DNS server {server} did not complete in {_MAX_ROUNDS} rounds")
