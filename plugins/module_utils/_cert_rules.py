# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG rules for a server authentication certificate: its facts and one function per rule.

Source: Microsoft Learn, "CMG server authentication certificate": the certificate needs a
private key, an RSA key of 2048 or 4096 bits, the Server Authentication EKU, a SHA-2 signature,
a common name that is the CMG service name, and a chain that internet clients trust.

Each finding is ``{code, severity, message}``; the codes are the constants below, documented in
docs/findings.md. A part of the certificate that cryptography cannot read (a duplicate or malformed
extension, a subject that is not valid UTF-8, an unknown key algorithm or curve) becomes the finding
``malformed`` naming that part, never an exception.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
import time
from typing import Any, Callable

from ._cert_load import Bundle, crypto, same_public_key
from ._errors import NamingError
from . import _naming
from ._hostnames import is_wildcard
from ._naming import CLOUDS, derive_names

# Finding codes: every code is documented in docs/findings.md (code, severity, meaning, what to do).
KEY_MISSING = "key_missing"
KEY_MISMATCH = "key_mismatch"
KEY_NOT_RSA = "key_not_rsa"
KEY_TOO_SMALL = "key_too_small"
KEY_SIZE_UNUSUAL = "key_size_unusual"
EKU_MISSING = "eku_missing"
EKU_NO_SERVER_AUTH = "eku_no_server_auth"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
EXPIRING_SOON = "expiring_soon"
WEAK_SIGNATURE_HASH = "weak_signature_hash"
MALFORMED = "malformed"
CN_MISSING = "cn_missing"
CN_NOT_SERVICE_NAME = "cn_not_service_name"
SAN_MISSING = "san_missing"
SERVICE_NAME_REQUIRED = "service_name_required"
NAME_INVALID = "name_invalid"
NAME_NOT_COVERED = "name_not_covered"
SELF_SIGNED = "self_signed"
CHAIN_UNTRUSTED = "chain_untrusted"
CHAIN_INVALID = "chain_invalid"
CHAIN_ENTERPRISE = "chain_enterprise"
CHAIN_INCOMPLETE = "chain_incomplete"
TRUST_STORE_NOT_CERTIFI = "trust_store_not_certifi"
AZURE_DOMAIN_PUBLIC_CA = "azure_domain_public_ca"
CRL_NOT_PUBLISHED = "crl_not_published"
AIA_NOT_PUBLISHED = "aia_not_published"
URL_UNREACHABLE = "url_unreachable"
RENEWAL_CN_MISMATCH = "renewal_cn_mismatch"
# Naming rule problems (from _naming.derive_names) become name_<resource>; their severity comes with them.
NAME_PROBLEM_CODES = {
    "dns_label": "name_dns_label",
    "key_vault": "name_key_vault",
    "storage_account": "name_storage_account",
    "service_name": "name_service_name",
    "deployment": "name_deployment",
    "dns_record": "name_dns_record",
}

SEVERITY: dict[str, str] = {
    KEY_MISSING: "error", KEY_MISMATCH: "error", KEY_NOT_RSA: "error", KEY_TOO_SMALL: "error",
    KEY_SIZE_UNUSUAL: "warning", EKU_MISSING: "error", EKU_NO_SERVER_AUTH: "error", NOT_YET_VALID: "error",
    EXPIRED: "error", EXPIRING_SOON: "warning", WEAK_SIGNATURE_HASH: "error", MALFORMED: "error", CN_MISSING: "error",
    CN_NOT_SERVICE_NAME: "error", SAN_MISSING: "warning", SERVICE_NAME_REQUIRED: "error", NAME_INVALID: "error",
    NAME_NOT_COVERED: "error", SELF_SIGNED: "error",
    CHAIN_UNTRUSTED: "error", CHAIN_INVALID: "error", CHAIN_ENTERPRISE: "info", CHAIN_INCOMPLETE: "warning",
    TRUST_STORE_NOT_CERTIFI: "warning", AZURE_DOMAIN_PUBLIC_CA: "error", CRL_NOT_PUBLISHED: "warning",
    AIA_NOT_PUBLISHED: "warning", URL_UNREACHABLE: "warning", RENEWAL_CN_MISMATCH: "error",
}
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
# Microsoft's Azure host domains (every cloud's cloudapp and classic domains, and usgovcloudapi.net as a whole):
# no public CA issues a certificate for a name under them. Longest first, so the message names the closest one.
AZURE_DOMAINS = tuple(sorted({domain for cloud in CLOUDS.values() for domain in (cloud.cloudapp_domain, cloud.classic_domain)}
                             | {"usgovcloudapi.net"}, key=lambda domain: (-len(domain), domain)))
RSA_SIZES = (2048, 4096)
WEAK_HASHES = ("md5", "sha1")
# check_urls: one deadline (seconds) for every CRL/AIA fetch together, fetched at once, at most this many URLs.
URL_DEADLINE = 10.0
MAX_URLS = 16


def finding(code: str, message: str, severity: str | None = None) -> dict[str, str]:
    """One finding; the severity is the code's own unless given (naming problems bring theirs)."""
    return {"code": code, "severity": severity or SEVERITY[code], "message": message}


def worst_severity(findings: list[dict[str, str]]) -> str | None:
    """``error``, ``warning`` or ``info`` (the worst among ``findings``), None when there are none."""
    ranks = [SEVERITY_RANK[item["severity"]] for item in findings]
    return {rank: name for name, rank in SEVERITY_RANK.items()}[max(ranks)] if ranks else None


# ---------------------------------------------------------------------------------------------- facts

Problems = list[tuple[str, str]]


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _read(problems: Problems | None, part: str, read: Callable[[], Any], default: Any = None) -> Any:
    """``read()``, or ``default`` with ``(part, reason)`` noted when cryptography cannot decode that part."""
    try:
        return read()
    except Exception as exc:  # pylint: disable=broad-except  # ValueError, DuplicateExtension, UnsupportedAlgorithm
        if problems is not None and all(seen != part for seen, _why in problems):
            problems.append((part, _reason(exc)))
        return default


def malformed_findings(problems: Problems) -> list[dict[str, str]]:
    """One ``malformed`` finding per unreadable part."""
    return [finding(MALFORMED, f"the {part} cannot be read ({why}): the certificate is malformed; reissue it with a "
                               "standard CA") for part, why in problems]


def iso(moment: datetime.datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> datetime.datetime:
    """Now, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def extension(cert: Any, oid_name: str, problems: Problems | None = None) -> Any:
    """The value of the extension ``oid_name`` (an ``ExtensionOID`` attribute), or None (unreadable: noted)."""
    x509 = crypto().x509

    def get() -> Any:
        try:
            return cert.extensions.get_extension_for_oid(getattr(x509.oid.ExtensionOID, oid_name)).value
        except x509.ExtensionNotFound:
            return None
    return _read(problems, "certificate's extensions", get)


def common_name(cert: Any, problems: Problems | None = None) -> str | None:
    """The first CN of the subject, or None."""
    x509 = crypto().x509
    values = _read(problems, "certificate's subject", lambda: cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME), [])
    return str(values[0].value) if values else None


def dns_sans(cert: Any, problems: Problems | None = None) -> list[str]:
    """The DNS names of the Subject Alternative Name extension."""
    san = extension(cert, "SUBJECT_ALTERNATIVE_NAME", problems)
    return list(san.get_values_for_type(crypto().x509.DNSName)) if san is not None else []


def _eku_names(cert: Any, problems: Problems | None) -> list[str] | None:
    eku = extension(cert, "EXTENDED_KEY_USAGE", problems)
    if eku is None:
        return None
    oids = crypto().x509.oid.ExtendedKeyUsageOID
    names = {oids.SERVER_AUTH: "serverAuth", oids.CLIENT_AUTH: "clientAuth", oids.CODE_SIGNING: "codeSigning",
             oids.EMAIL_PROTECTION: "emailProtection", oids.TIME_STAMPING: "timeStamping",
             oids.OCSP_SIGNING: "OCSPSigning", oids.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage"}
    return [names.get(oid, oid.dotted_string) for oid in eku]


def _key_usage(cert: Any, problems: Problems | None) -> list[str]:
    usage = extension(cert, "KEY_USAGE", problems)
    if usage is None:
        return []
    names = {"digital_signature": "digitalSignature", "content_commitment": "nonRepudiation",
             "key_encipherment": "keyEncipherment", "data_encipherment": "dataEncipherment",
             "key_agreement": "keyAgreement", "key_cert_sign": "keyCertSign", "crl_sign": "cRLSign"}
    result = [label for attribute, label in names.items() if getattr(usage, attribute)]
    if usage.key_agreement:
        result += [label for attribute, label in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
                   if getattr(usage, attribute)]
    return result


def _key_type(cert: Any, problems: Problems | None) -> tuple[str, int | None]:
    lib = crypto()
    public_key = _read(problems, "certificate's public key", cert.public_key)
    if public_key is None:
        return "unknown", None
    for kind, cls in (("RSA", lib.rsa.RSAPublicKey), ("EC", lib.ec.EllipticCurvePublicKey),
                      ("DSA", lib.dsa.DSAPublicKey), ("Ed25519", lib.ed25519.Ed25519PublicKey),
                      ("Ed448", lib.ed448.Ed448PublicKey)):
        if isinstance(public_key, cls):
            return kind, getattr(public_key, "key_size", None)
    return type(public_key).__name__, None


def signature_hash(cert: Any) -> str | None:
    """The signature's hash algorithm name (``sha256``, ``sha1``, ``md5``...), None when it has none (Ed25519)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # pylint: disable=broad-except  # UnsupportedAlgorithm: fall back to the OID's name
        name = getattr(cert.signature_algorithm_oid, "_name", "")
        return "md5" if "md5" in name.lower() else ("sha1" if "sha1" in name.lower() else name or None)
    return algorithm.name if algorithm is not None else None


def certificate_facts(cert: Any, bundle: Bundle | None = None, now: datetime.datetime | None = None,
                      problems: Problems | None = None) -> dict[str, Any]:
    """The facts of ``cert`` as the module returns them (no secret: the key is only compared).

    A part cryptography cannot read gives its empty value, with ``(part, reason)`` appended to ``problems``.
    """
    lib = crypto()
    now = now or utcnow()
    key_type, key_size = _key_type(cert, problems)
    sans = dns_sans(cert, problems)
    cn = common_name(cert, problems)
    key = bundle.key if bundle else None
    der = cert.public_bytes(lib.serialization.Encoding.DER)
    return {
        "subject": _read(problems, "certificate's subject", lambda: cert.subject.rfc4514_string()),  # pylint: disable=unnecessary-lambda
        "common_name": cn,
        "sans": sans,
        "issuer": _read(problems, "certificate's issuer", lambda: cert.issuer.rfc4514_string()),  # pylint: disable=unnecessary-lambda
        "serial": format(cert.serial_number, "X"),
        "thumbprint": hashlib.sha1(der).hexdigest().upper(),  # nosec B324 - the Windows thumbprint is SHA-1
        "sha256_fingerprint": hashlib.sha256(der).hexdigest().upper(),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "days_remaining": int((cert.not_valid_after_utc - now).total_seconds() // 86400),
        "key_type": key_type,
        "key_size": key_size,
        "signature_hash": signature_hash(cert),
        "eku": _eku_names(cert, problems),
        "key_usage": _key_usage(cert, problems),
        "wildcard": any(is_wildcard(name) for name in sans + ([cn] if cn else [])),
        "has_private_key": key is not None,
        "private_key_matches": same_public_key(lib, cert, key) if key is not None else None,
        "friendly_name": bundle.friendly_name if bundle else None,
    }


# ---------------------------------------------------------------------------------------------- checks


def key_findings(bundle: Bundle, facts: dict[str, Any]) -> list[dict[str, str]]:
    """Private key present and matching, RSA 2048 or 4096 bits."""
    found = []
    if not facts["has_private_key"]:
        found.append(finding(KEY_MISSING, "the file holds no private key: export the certificate again as a PFX "
                                          "with its private key ('Yes, export the private key')"))
    elif not facts["private_key_matches"]:
        found.append(finding(KEY_MISMATCH, "the private key in the file does not belong to the certificate: export "
                                           "the certificate together with its own private key"))
    kind, size = facts["key_type"], facts["key_size"]
    if kind == "unknown":
        return found  # reported as malformed
    if kind != "RSA":
        found.append(finding(KEY_NOT_RSA, f"the key is {kind}{f' {size}-bit' if size else ''}: CMG clients support RSA "
                                          "keys only; request a certificate with an RSA 2048 or 4096-bit key"))
    elif size < 2048:
        found.append(finding(KEY_TOO_SMALL, f"the RSA key has {size} bits: use 2048 or 4096 bits"))
    elif size not in RSA_SIZES:
        found.append(finding(KEY_SIZE_UNUSUAL, f"the RSA key has {size} bits: the CMG documentation supports 2048 "
                                               "and 4096 bits; prefer one of those"))
    return found


def eku_findings(facts: dict[str, Any]) -> list[dict[str, str]]:
    """The Server Authentication EKU must be present (a certificate without the extension fails too)."""
    if facts["eku"] is None:
        return [finding(EKU_MISSING, "the certificate has no Enhanced Key Usage extension: the CMG needs one with "
                                     "Server Authentication (1.3.6.1.5.5.7.3.1); use a web server template")]
    if "serverAuth" not in facts["eku"]:
        return [finding(EKU_NO_SERVER_AUTH, f"the Enhanced Key Usage ({', '.join(facts['eku']) or 'empty'}) lacks Server "
                                            "Authentication (1.3.6.1.5.5.7.3.1): use a web server template")]
    return []


def time_findings(cert: Any, facts: dict[str, Any], now: datetime.datetime, min_days: int) -> list[dict[str, str]]:
    """Not yet valid, expired, or fewer than ``min_days`` days left."""
    if cert.not_valid_before_utc > now:
        return [finding(NOT_YET_VALID, f"the certificate is not valid before {facts['not_before']}: wait, or check "
                                       "the clock of the issuing CA")]
    if cert.not_valid_after_utc <= now:
        return [finding(EXPIRED, f"the certificate expired on {facts['not_after']}: renew it")]
    if facts["days_remaining"] < min_days:
        return [finding(EXPIRING_SOON, f"the certificate expires on {facts['not_after']}, within the {min_days} days of "
                                       "min_days_remaining: renew it (same common name) before it expires")]
    return []


def hash_findings(facts: dict[str, Any]) -> list[dict[str, str]]:
    """SHA-1 and MD5 signatures are refused by Windows."""
    if facts["signature_hash"] in WEAK_HASHES:
        return [finding(WEAK_SIGNATURE_HASH, f"the certificate is signed with {facts['signature_hash'].upper()}, which "
                                             "Windows does not trust: reissue it with a SHA-256 signature")]
    return []


def covers(pattern: str, name: str) -> bool:
    """True when the certificate name ``pattern`` covers host ``name`` (``*`` as the whole leftmost label only)."""
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if pattern.startswith("*."):
        first, _dot, rest = name.partition(".")
        return bool(first) and rest == pattern[2:] and "*" not in pattern[2:]
    return "*" not in pattern and pattern == name


def name_findings(facts: dict[str, Any], wanted: str | None, prefix: str | None, region: str | None,
                  cloud: str | None, content_enabled: bool) -> tuple[str | None, dict[str, Any] | None, list[dict[str, str]]]:
    """The service name, the naming dict and the name findings (CN, SAN, coverage, naming rules)."""
    found = []
    cn = facts["common_name"]
    if not cn:
        found.append(finding(CN_MISSING, "the certificate has no common name (CN): the CMG takes its service name from "
                                         "the CN; request a certificate whose CN is the service name"))
    base = wanted or cn
    if not base:
        return None, None, found
    try:
        service = _naming.service_name(base, prefix)
    except NamingError as exc:
        code = SERVICE_NAME_REQUIRED if is_wildcard(base) and not prefix else NAME_INVALID
        return None, None, found + [finding(code, str(exc))]
    patterns = facts["sans"] or ([cn] if cn else [])
    if not any(covers(pattern, service) for pattern in patterns):
        where = f"SAN list ({', '.join(facts['sans'])})" if facts["sans"] else f"common name ({cn})"
        found.append(finding(NAME_NOT_COVERED, f"the service name {service!r} is not covered by the certificate's "
                                               f"{where}: request a certificate for {service!r} or pick a covered name"))
    else:
        if not facts["sans"]:
            found.append(finding(SAN_MISSING, f"the service name {service!r} is only in the common name: Windows clients "
                                              "accept that, but browsers and other modern TLS clients need it in the "
                                              "Subject Alternative Name; reissue the certificate with the name as a DNS SAN"))
        if cn and not covers(cn, service):
            found.append(finding(CN_NOT_SERVICE_NAME, f"the common name {cn!r} is not the service name {service!r}: the "
                                                      "CMG takes its service name from the CN, not from the SANs; request "
                                                      f"a certificate whose CN is {service!r}"))
    names = derive_names(service, region, cloud, content_enabled=content_enabled)
    for problem in names["problems"]:  # type: ignore[attr-defined]
        code = NAME_PROBLEM_CODES.get(problem["resource"], f"name_{problem['resource']}")
        found.append(finding(code, problem["message"], problem["severity"]))
    return service, names, found


def azure_host_domain(name: str) -> str | None:
    """The Azure domain of :data:`AZURE_DOMAINS` that ``name`` (or the domain of a ``*.`` wildcard) is or lies under."""
    lowered = name.lower().rstrip(".")
    lowered = lowered[2:] if lowered.startswith("*.") else lowered
    return next((domain for domain in AZURE_DOMAINS if lowered == domain or lowered.endswith("." + domain)), None)


def azure_domain_findings(names: list[str], trust: str) -> list[dict[str, str]]:
    """A publicly trusted certificate for a name under Azure's cloudapp domains cannot exist legitimately."""
    if trust != "public":
        return []
    for name in names:
        domain = azure_host_domain(name)
        if domain is not None:
            return [finding(AZURE_DOMAIN_PUBLIC_CA, f"the certificate is for {name!r} under Microsoft's domain "
                                                    f"{domain} yet chains to a public root: a public CA does not "
                                                    "issue those; use a name in your own domain")]
    return []


# ---------------------------------------------------------------------------------------------- revocation URLs


def _uris(cert: Any, oid_name: str) -> list[str]:
    uri = crypto().x509.UniformResourceIdentifier
    value = extension(cert, oid_name) or []
    if oid_name == "CRL_DISTRIBUTION_POINTS":
        return [name.value for point in value for name in point.full_name or [] if isinstance(name, uri)]
    return [item.access_location.value for item in value if isinstance(item.access_location, uri)]


def revocation_findings(cert: Any, check_urls: bool = False, timeout: float = URL_DEADLINE,
                        fetch: Callable[[str, float], str | None] | None = None,
                        clock: Callable[[], float] = time.monotonic,
                        on_answer: Callable[[str], None] | None = None) -> list[dict[str, str]]:
    """CRL distribution points and AIA must have http URLs internet clients can reach.

    With ``check_urls``, the http(s) URLs the certificate names (at most :data:`MAX_URLS`) are fetched
    concurrently, all within one deadline of ``timeout`` seconds (``fetch(url, seconds_left)`` returns why a
    URL failed, or None; ``clock`` gives the time; both injectable, see :func:`check_reachable`).
    """
    found = []
    wanted: list[str] = []
    for urls, code, what in ((_uris(cert, "CRL_DISTRIBUTION_POINTS"), CRL_NOT_PUBLISHED, "CRL distribution point"),
                             (_uris(cert, "AUTHORITY_INFORMATION_ACCESS"), AIA_NOT_PUBLISHED,
                              "authority information access (AIA)")):
        http = [url for url in urls if url.lower().startswith(("http://", "https://"))]
        if not http:
            seen = f" (only {', '.join(urls)})" if urls else ""
            found.append(finding(code, f"the certificate has no http {what} URL{seen}: internet clients cannot check "
                                       "it; publish the CA's CRL and AIA over http and reissue"))
        wanted += [url for url in http if url not in wanted]
    if check_urls and wanted:
        for url, error in check_reachable(wanted[:MAX_URLS], timeout, fetch or unreachable, clock,
                                          on_answer):
            found.append(finding(URL_UNREACHABLE, f"{url} cannot be reached ({error}): internet clients need it; "
                                                  "publish it on an internet-facing web server"))
    return found


def check_reachable(urls: list[str], deadline: float, fetch: Callable[[str, float], str | None],
                    clock: Callable[[], float] = time.monotonic,
                    on_answer: Callable[[str], None] | None = None) -> list[tuple[str, str]]:
    """``(url, why)`` for each URL that fails or has not answered when ``deadline`` seconds (by ``clock``) have passed.

    Each URL is fetched in its own daemon thread (at most :data:`MAX_URLS`), so a URL that never answers
    delays neither the others nor the end of the task. ``on_answer(url)`` is called once a URL's answer is in.
    """
    start = clock()
    results: dict[str, str | None] = {}
    done = threading.Condition()

    def worker(url: str) -> None:
        try:
            outcome = fetch(url, max(0.1, deadline - (clock() - start)))
        except Exception as exc:  # pylint: disable=broad-except  # any failure of one URL is that URL's answer
            outcome = _reason(exc)
        with done:
            results[url] = outcome
            done.notify_all()
        if on_answer is not None:
            on_answer(url)

    for url in urls:
        threading.Thread(target=worker, args=(url,), daemon=True).start()
    with done:
        while len(results) < len(urls) and clock() - start < deadline:
            done.wait(0.05)
        answered = dict(results)
    failed = []
    for url in urls:
        if url not in answered:
            failed.append((url, f"no answer within the {deadline:g} s deadline of check_urls"))
        elif answered[url]:
            failed.append((url, str(answered[url])))
    return failed


def unreachable(url: str, timeout: float) -> str | None:
    """Why ``url`` cannot be fetched (an error or a status of 400 or more), or None when it answers."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are fetched, not {parts.scheme!r}"
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = factory(parts.hostname or "", parts.port, timeout=timeout)
        try:
            connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
            status = connection.getresponse().status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None if status < 400 else f"HTTP {status}"
