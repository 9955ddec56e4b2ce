# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a client sees at a live CMG: DNS, the CNAME, the TLS handshake and the certificate presented.

:func:`inspect_endpoint` resolves the service name (through given name servers, or the host's
resolver), follows the CNAME to the deployment name, opens one TLS connection with SNI set to the
service name and describes what was presented: the leaf and chain facts, the negotiated version and
cipher, whether the chain verifies for the service name against the public roots (certifi) and an
optional ``ca_bundle`` (cryptography's verifier), and whether it is the expected certificate.
Every problem is a finding ``{code, severity, message}``, and each finding belongs to one check
(:data:`CHECKS`) that passes, warns, fails or is skipped. Each network step waits at most
``timeout`` seconds and nothing is retried. The clock (``now``) is injected for the days remaining.
Plain Python: ``cryptography``, ``certifi`` and ``dnspython`` are imported lazily.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import socket
import warnings
from dataclasses import dataclass, field
from typing import Any

from ._cert_load import load_certificate
from ._cert_rules import covers
from ._dns_resolve import normalize_name, servers_from_option
from ._endpoint_dns import resolve_system, resolve_via
from ._endpoint_findings import (
    CHECK_OF, CHECKS, CNAME_WRONG_TARGET, EXPIRED, EXPIRING_SOON, NAME_MISMATCH, NOT_EXPECTED_CERTIFICATE, NOT_YET_VALID,
    SEVERITY, STATUS_OF, STATUS_RANK, TLS_BELOW_1_2, UNREACHABLE, UNRESOLVED, UNTRUSTED,
)
from ._errors import CertificateError, CmgError, MissingDependencyError
from ._hostnames import normalize_fqdn
from ._naming import deployment_name as derive_deployment_name

DEFAULT_PORT = 443
MAX_TIMEOUT = 300.0
MAX_CHAIN = 10
MAX_BUNDLE_BYTES = 1 << 20
OLD_TLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
# OpenSSL reasons that mean "no protocol version in common": the server speaks only an old version.
_VERSION_REASONS = ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE",
                    "VERSION_TOO_LOW")
_NOT_HEX = re.compile(r"[^0-9a-f]")
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class Request:
    """The options of one endpoint check (the module's parameters)."""

    service_name: str
    port: int = DEFAULT_PORT
    nameservers: tuple[str, ...] = ()
    deployment_name: str | None = None
    region: str | None = None
    cloud_environment: str | None = None
    ca_bundle: str | None = None
    min_days_remaining: int = 30
    expected_thumbprint: str | None = None
    expected_certificate: str | None = None
    expected_certificate_content: str | None = field(default=None, repr=False)
    expected_certificate_password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


def finding(code: str, message: str) -> dict[str, str]:
    """One finding with the code's severity."""
    return {"code": code, "severity": SEVERITY[code], "message": message}


def _x509() -> Any:
    try:
        from cryptography import x509
    except ImportError as exc:
        raise MissingDependencyError("cryptography", exc) from exc
    return x509


# ---------------------------------------------------------------------------------------------- inputs


def normalize_thumbprint(value: str) -> str:
    """Upper-case hex of a SHA-1 (40) or SHA-256 (64) thumbprint; spaces, colons and the invisible
    left-to-right mark that Windows' certificate dialog copies along are dropped."""
    text = _NOT_HEX.sub("", str(value).lower())
    if len(text) not in (40, 64):
        raise CmgError(f"expected_thumbprint {value!r} is neither a SHA-1 (40 hex digits) nor a SHA-256 (64 hex "
                       "digits) thumbprint: copy it from the certificate's Details tab")
    return text.upper()


def _expected_prints(request: Request) -> tuple[set[str], str | None]:
    """The thumbprints the deployed certificate must have, and how they were given."""
    if request.expected_thumbprint:
        return {normalize_thumbprint(request.expected_thumbprint)}, "thumbprint"
    if request.expected_certificate or request.expected_certificate_content:
        try:
            bundle = load_certificate(path=request.expected_certificate, content=request.expected_certificate_content,
                                      password=request.expected_certificate_password, read_keys=False)
        except CertificateError as exc:
            raise CertificateError(f"expected_certificate: {exc}") from None
        der = _der(bundle.leaf)
        return {hashlib.sha1(der).hexdigest().upper(), hashlib.sha256(der).hexdigest().upper()}, "certificate"  # nosec B324
    return set(), None


def read_ca_bundle(value: str | None) -> list[Any]:
    """The certificates of ``ca_bundle`` (a path or PEM text), at most 1 MiB."""
    if not value:
        return []
    if "-----BEGIN" in value:
        data, where = value.encode(), "the ca_bundle text"
    else:
        where = f"ca_bundle {value!r}"
        try:
            with open(value, "rb") as handle:
                data = handle.read(MAX_BUNDLE_BYTES + 1)
        except OSError as exc:
            raise CertificateError(f"{where} cannot be read on the host that runs the task: "
                                   f"{exc.strerror or exc}") from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise CertificateError(f"{where} is larger than 1 MiB: give only the enterprise root(s) and intermediates")
    x509 = _x509()
    certs = []
    for block in _PEM_CERT.findall(data):
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            raise CertificateError(f"{where} holds a certificate that cannot be read: export it again as PEM") from None
    if not certs:
        raise CertificateError(f"{where} holds no PEM certificate")
    return certs


def public_roots() -> list[Any]:
    """Mozilla's roots from the certifi package."""
    try:
        import certifi
    except ImportError as exc:
        raise MissingDependencyError("certifi", exc) from exc
    with open(certifi.where(), "rb") as handle:
        data = handle.read()
    with warnings.catch_warnings():  # a few old roots have negative serial numbers: still anchors
        warnings.simplefilter("ignore")
        return list(_x509().load_pem_x509_certificates(data))


# ---------------------------------------------------------------------------------------------- TLS


def _der(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return bytes(cert.public_bytes(Encoding.DER))


def _peer_chain(tls: Any) -> list[bytes]:
    """The certificates the server sent, leaf first, as DER (Python 3.13 public API, 3.10-3.12 private one)."""
    import ssl

    getter = getattr(tls, "get_unverified_chain", None) or getattr(getattr(tls, "_sslobj", None),
                                                                   "get_unverified_chain", None)
    chain = getter() if getter else None
    if not chain:
        leaf = tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    der = getattr(ssl, "_ssl").ENCODING_DER  # 3.10-3.12: _ssl.Certificate objects
    return [item if isinstance(item, bytes) else item.public_bytes(der) for item in chain][:MAX_CHAIN]


def _client_context() -> Any:
    """A context that accepts whatever the server presents (judged afterwards) and offers TLS 1.0 to 1.3,
    so that a server stuck on an old version is reported as such rather than as unreachable."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):  # an OpenSSL built without old versions: 1.2 is the floor
            pass
    return context


def handshake(address: str, port: int, server_name: str, timeout: float) -> dict[str, Any]:
    """One TLS handshake with SNI ``server_name``: version, cipher and the presented chain (DER)."""
    import ssl

    stage = "TCP connect"
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            stage = "TLS handshake"
            raw.settimeout(timeout)
            with _client_context().wrap_socket(raw, server_hostname=server_name) as tls:
                cipher = tls.cipher()
                return {"version": tls.version(), "cipher": cipher[0] if cipher else None,
                        "bits": cipher[2] if cipher else None, "chain": _peer_chain(tls)}
    except socket.timeout:
        return {"error": f"{stage} to {address}:{port} timed out after {timeout:g}s", "version_refused": False}
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        return {"error": f"TLS handshake with {address}:{port} failed: {reason}",
                "version_refused": any(item in str(reason).upper() for item in _VERSION_REASONS)}
    except OSError as exc:
        return {"error": f"{stage} to {address}:{port} failed: {exc.strerror or exc}", "version_refused": False}


# ---------------------------------------------------------------------------------------------- certificates


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def certificate_facts(cert: Any, now: datetime.datetime) -> dict[str, Any]:
    """What an operator needs of a presented certificate (names, dates, thumbprints)."""
    x509 = _x509()
    der = _der(cert)
    try:
        sans = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                    .get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = []
    cns = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return {"subject": cert.subject.rfc4514_string(), "common_name": str(cns[0].value) if cns else None,
            "sans": sans, "issuer": cert.issuer.rfc4514_string(), "serial": format(cert.serial_number, "X"),
            "not_before": _iso(cert.not_valid_before_utc), "not_after": _iso(cert.not_valid_after_utc),
            "days_remaining": int((cert.not_valid_after_utc - now).total_seconds() // 86400),
            "thumbprint": hashlib.sha1(der).hexdigest().upper(),  # nosec B324 - the Windows thumbprint is SHA-1
            "sha256_fingerprint": hashlib.sha256(der).hexdigest().upper()}


def verify_chain(leaf: Any, presented: list[Any], enterprise: list[Any], service: str,
                 now: datetime.datetime) -> dict[str, Any]:
    """Whether cryptography's verifier builds a path from ``leaf`` to a public or enterprise root.

    The name is judged by :func:`_name_findings` and the dates by :func:`_time_findings`: the path is
    verified for a name the leaf covers, at a moment within the leaf's validity, so that one problem is
    reported once, under its own code.
    """
    x509 = _x509()
    from cryptography.x509 import verification

    facts = certificate_facts(leaf, now)
    if not facts["sans"]:
        return {"trust": "untrusted", "verified": False,
                "error": "the certificate has no Subject Alternative Name: TLS clients match the name there"}
    name = service if any(covers(item, service) for item in facts["sans"]) else facts["sans"][0].replace("*", "cmg", 1)
    moment = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    roots = [cert for cert in enterprise if cert.issuer == cert.subject] + public_roots()
    pool = presented[1:] + [cert for cert in enterprise if cert.issuer != cert.subject]
    try:
        verifier = (verification.PolicyBuilder().store(verification.Store(roots)).time(moment)
                    .build_server_verifier(x509.DNSName(name)))
        path = verifier.verify(leaf, pool)
    except verification.VerificationError as exc:
        return {"trust": "untrusted", "verified": False, "error": str(exc).splitlines()[0][:300]}
    except ValueError as exc:  # a SAN the verifier cannot take as a DNS name
        return {"trust": "untrusted", "verified": False, "error": str(exc)[:300]}
    anchor = _der(path[-1])
    kind = "enterprise" if any(_der(cert) == anchor for cert in enterprise) else "public"
    return {"trust": kind, "verified": True, "error": None,
            "path": [cert.subject.rfc4514_string() for cert in path]}


# ---------------------------------------------------------------------------------------------- findings


def _time_findings(facts: dict[str, Any], now: datetime.datetime, leaf: Any, min_days: int) -> list[dict[str, str]]:
    if now > leaf.not_valid_after_utc:
        return [finding(EXPIRED, f"the certificate expired on {facts['not_after']} ({-facts['days_remaining']} days "
                                 "ago): clients cannot connect; renew it now, keeping the same common name")]
    if now < leaf.not_valid_before_utc:
        return [finding(NOT_YET_VALID, f"the certificate is valid only from {facts['not_before']}: clients refuse it "
                                       "until then; check the clock of the issuing CA")]
    if facts["days_remaining"] < min_days:
        return [finding(EXPIRING_SOON, f"the certificate expires on {facts['not_after']}, in {facts['days_remaining']} "
                                       f"days (fewer than min_days_remaining {min_days}): renew it now, keeping the "
                                       "same common name")]
    return []


def _name_findings(facts: dict[str, Any], service: str) -> list[dict[str, str]]:
    names = facts["sans"] or ([facts["common_name"]] if facts["common_name"] else [])
    if any(covers(item, service) for item in names):
        return []
    return [finding(NAME_MISMATCH, f"the certificate presented for {service} is for {', '.join(names) or 'no name'}: "
                                   "clients refuse it; bind a certificate whose name is the service name")]


def _check(name: str, findings: list[dict[str, str]], skipped: str | None, passed: str) -> dict[str, str]:
    own = [item for item in findings if CHECK_OF[item["code"]] == name]
    if own:
        worst = max((STATUS_OF[item["severity"]] for item in own), key=STATUS_RANK.__getitem__)
        return {"name": name, "status": worst, "message": "; ".join(item["message"] for item in own)}
    if skipped:
        return {"name": name, "status": "skip", "message": skipped}
    return {"name": name, "status": "pass", "message": passed}


def overall_status(checks: list[dict[str, str]]) -> str:
    """``fail``, ``warn`` or ``pass``: the worst check (a skipped check never passes a broken endpoint)."""
    worst = max((check["status"] for check in checks), key=STATUS_RANK.__getitem__, default="pass")
    return "pass" if worst == "skip" else worst


# ---------------------------------------------------------------------------------------------- the check


def _validated(request: Request) -> tuple[str, str | None]:
    service = normalize_fqdn(request.service_name)
    if not 0 < int(request.port) < 65536:
        raise CmgError(f"port {request.port} is not a TCP port (1-65535)")
    if not 0 < float(request.timeout) <= MAX_TIMEOUT:
        raise CmgError(f"timeout {request.timeout:g} must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    if request.min_days_remaining < 0:
        raise CmgError("min_days_remaining must be 0 or more")
    expected = None
    if request.deployment_name:
        expected = normalize_fqdn(request.deployment_name, "deployment name").lower()
    elif request.region:
        expected = derive_deployment_name(service, request.region, request.cloud_environment)
    return service, expected


def _dns_step(request: Request, service: str, expected: str | None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    dns_facts: dict[str, Any] = {"nameservers": list(request.nameservers), "expected_deployment_name": expected,
                                 "cname_chain": [], "deployment_name": None, "addresses": [], "answered_by": None}
    try:
        if request.nameservers:
            servers = servers_from_option(request.nameservers, timeout=request.timeout)
            dns_facts.update(resolve_via(servers, service, request.timeout))
        else:
            dns_facts.update(resolve_system(service, request.port))
    except MissingDependencyError:
        raise
    except CmgError as exc:
        return dns_facts, [finding(UNRESOLVED, f"{exc}: clients cannot find the CMG; create the CNAME {service} -> "
                                               f"{expected or 'the deployment name'}")]
    chain = dns_facts["cname_chain"]
    dns_facts["deployment_name"] = chain[0] if chain else None
    if expected and normalize_name(dns_facts["deployment_name"]) != expected:
        seen = f"points to {chain[0]}" if chain else "has no CNAME"
        return dns_facts, [finding(CNAME_WRONG_TARGET, f"{service} {seen}, not to the deployment name {expected}: "
                                                       f"clients reach the wrong place; point the CNAME at {expected}")]
    return dns_facts, []


def _judge_certificate(result: dict[str, Any], certs: list[Any], facts: dict[str, Any], enterprise: list[Any],
                       service: str, prints: set[str], request: Request, now: datetime.datetime) -> list[dict[str, str]]:
    """Trust, name, dates and expectation of the presented certificate; fills ``result``'s facts."""
    found = []
    result["certificate"] = facts
    verdict = verify_chain(certs[0], certs, enterprise, service, now)
    result["chain"] = {**verdict, "presented": [certificate_facts(cert, now) for cert in certs]}
    if not verdict["verified"]:
        found.append(finding(UNTRUSTED, f"the chain does not verify against the public roots (certifi)"
                                        f"{' or ca_bundle' if enterprise else ''}: {verdict['error']}; serve the "
                                        "full chain, or add the enterprise root to ca_bundle"))
    found += _name_findings(facts, service) + _time_findings(facts, now, certs[0], request.min_days_remaining)
    if prints:
        result["expected"]["matches"] = bool({facts["thumbprint"], facts["sha256_fingerprint"]} & prints)
        if not result["expected"]["matches"]:
            found.append(finding(NOT_EXPECTED_CERTIFICATE, f"the endpoint presents {facts['thumbprint']} "
                                                           f"({facts['subject']}), not the expected certificate: "
                                                           "bind the expected certificate, or update the "
                                                           "expected thumbprint after a planned renewal"))
    return found


def inspect_endpoint(request: Request, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Look at the CMG as a client does and return facts, findings, checks and the overall status."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    service, expected = _validated(request)
    prints, expected_by = _expected_prints(request)
    enterprise = read_ca_bundle(request.ca_bundle)
    dns_facts, found = _dns_step(request, service, expected)
    result: dict[str, Any] = {"changed": False, "service_name": service, "port": request.port, "dns": dns_facts,
                              "address": None, "tls": None, "certificate": None, "chain": None,
                              "expected": {"by": expected_by, "matches": None}}
    skipped = "not checked: no address to connect to" if not dns_facts["addresses"] else None
    shake: dict[str, Any] = {}
    for address in dns_facts["addresses"]:
        shake = handshake(address, request.port, service, request.timeout)
        result["address"] = address
        if "error" not in shake or shake["version_refused"]:
            break
    if shake.get("error"):
        code = TLS_BELOW_1_2 if shake["version_refused"] else UNREACHABLE
        hint = ("the server offers no TLS version this host accepts (1.2 or later expected): enable TLS 1.2"
                if code == TLS_BELOW_1_2 else "clients cannot connect; check the CMG service and its port")
        found.append(finding(code, f"{shake['error']}: {hint}"))
        skipped = "not checked: no TLS session with the endpoint"
    elif shake:
        result["tls"] = {"version": shake["version"], "cipher": shake["cipher"], "cipher_bits": shake["bits"]}
        if shake["version"] in OLD_TLS:
            found.append(finding(TLS_BELOW_1_2, f"the server negotiated {shake['version']} although TLS 1.3 and 1.2 "
                                                "were offered: clients that require TLS 1.2 fail; enable TLS 1.2"))
        try:
            certs = [_x509().load_der_x509_certificate(item) for item in shake["chain"]]
            facts = certificate_facts(certs[0], now)
        except MissingDependencyError:
            raise
        except Exception as exc:  # pylint: disable=broad-except  # whatever the server sent: a finding, no traceback
            reason = "no certificate was presented" if not shake["chain"] else f"it cannot be read ({exc})"
            found.append(finding(UNTRUSTED, f"the server's certificate is unusable: {reason}; clients refuse it"))
            skipped = "not checked: the presented certificate cannot be read"
        else:
            found += _judge_certificate(result, certs, facts, enterprise, service, prints, request, now)
    passed = {"dns": f"{service} -> {' -> '.join(dns_facts['cname_chain'] + [', '.join(dns_facts['addresses'])])}",
              "connect": f"connected to {result['address']}:{request.port}",
              "tls_version": f"negotiated {(result['tls'] or {}).get('version')}",
              "trust": f"the chain verifies ({(result['chain'] or {}).get('trust')} root)",
              "name": f"the certificate covers {service}",
              "expiry": f"{(result['certificate'] or {}).get('days_remaining')} days left",
              "expected": "the endpoint presents the expected certificate"}
    skips = {"dns": None, "connect": skipped if not dns_facts["addresses"] else None,
             "tls_version": skipped if result["tls"] is None else None}
    expected_skip = None if prints else "no expected_thumbprint or expected_certificate was given"
    checks = [_check(name, found, skips.get(name, skipped) or (expected_skip if name == "expected" else None),
                     passed[name]) for name in CHECKS]
    result.update(findings=found, checks=checks, status=overall_status(checks))
    return result
