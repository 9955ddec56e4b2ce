# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a CMG server authentication certificate: load it, describe it, check it.

Source: Microsoft Learn, "CMG server authentication certificate": the certificate needs a
private key, an RSA key of 2048 or 4096 bits, the Server Authentication EKU, a SHA-2 signature,
a common name that is the CMG service name, and a chain that internet clients trust.

:func:`load_certificate` reads PFX, PEM or DER (sniffed), with one-line :class:`CertificateError`
messages for a missing, empty, truncated or corrupt file, a wrong password and a legacy RC2 PFX
that this OpenSSL build cannot decrypt. :func:`validate` returns the facts and the findings (each a
``{code, severity, message}``; the codes are the constants below, documented in docs/findings.md).
The private key is only compared with the certificate: it is never returned, logged or written.
``cryptography`` (and ``certifi`` for ``trust=certifi``) are imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from ._errors import CertificateError, MissingDependencyError, NamingError
from . import _naming
from ._naming import CLOUDS, cloud_names, derive_names, is_wildcard, normalize_fqdn

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
CN_MISSING = "cn_missing"
CN_NOT_SERVICE_NAME = "cn_not_service_name"
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
    EXPIRED: "error", EXPIRING_SOON: "warning", WEAK_SIGNATURE_HASH: "error", CN_MISSING: "error",
    CN_NOT_SERVICE_NAME: "error", SERVICE_NAME_REQUIRED: "error", NAME_INVALID: "error", NAME_NOT_COVERED: "error",
    SELF_SIGNED: "error",
    CHAIN_UNTRUSTED: "error", CHAIN_INVALID: "error", CHAIN_ENTERPRISE: "info", CHAIN_INCOMPLETE: "warning",
    TRUST_STORE_NOT_CERTIFI: "warning", AZURE_DOMAIN_PUBLIC_CA: "error", CRL_NOT_PUBLISHED: "warning",
    AIA_NOT_PUBLISHED: "warning", URL_UNREACHABLE: "warning", RENEWAL_CN_MISMATCH: "error",
}
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
# Microsoft's Azure host domains (every cloud's cloudapp and classic domains, and usgovcloudapi.net as a whole):
# no public CA issues a certificate for a name under them. Longest first, so the message names the closest one.
AZURE_DOMAINS = tuple(sorted({domain for cloud in CLOUDS.values() for domain in (cloud.cloudapp_domain, cloud.classic_domain)}
                             | {"usgovcloudapi.net"}, key=lambda domain: (-len(domain), domain)))
FORMATS = ("auto", "pfx", "pem", "der")
RSA_SIZES = (2048, 4096)
WEAK_HASHES = ("md5", "sha1")
MAX_CHAIN_DEPTH = 8
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
# PKCS#12 PBE algorithms of the PKCS#12 v1 family (1.2.840.113549.1.12.1.x): RC4, 3DES, RC2 (RFC 7292 C).
_LEGACY_PBE_PREFIX = bytes.fromhex("060a2a864886f70d010c01")
_MAC_HASHES = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
               "2.16.840.1.101.3.4.2.3": "sha512", "2.16.840.1.101.3.4.2.4": "sha224"}


def finding(code: str, message: str, severity: str | None = None) -> dict[str, str]:
    """One finding; the severity is the code's own unless given (naming problems bring theirs)."""
    return {"code": code, "severity": severity or SEVERITY[code], "message": message}


def _crypto() -> Any:
    """The cryptography modules this file uses, imported on first need."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError as exc:
        raise MissingDependencyError("cryptography", exc) from exc
    return _Crypto(x509, hashes, serialization, pkcs12, rsa, ec, dsa, ed25519, ed448)


@dataclass(frozen=True)
class _Crypto:
    x509: Any
    hashes: Any
    serialization: Any
    pkcs12: Any
    rsa: Any
    ec: Any
    dsa: Any
    ed25519: Any
    ed448: Any


@dataclass
class Bundle:
    """What a certificate file holds: the leaf, the other certificates and (hidden) the private key."""

    leaf: Any
    others: list[Any]
    format: str
    source: str
    friendly_name: str | None = None
    key: Any = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------- reading


def _read_path(path: str) -> bytes:
    where = f"certificate file {path!r}"
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CertificateError(f"{where} not found on the host that runs the task") from None
    except IsADirectoryError:
        raise CertificateError(f"{where} is a directory, not a certificate file") from None
    except PermissionError:
        raise CertificateError(f"{where} cannot be read: permission denied") from None
    except OSError as exc:
        raise CertificateError(f"{where} cannot be read: {exc.strerror or exc}") from None


def _decode_content(content: str | bytes) -> bytes:
    data = content.encode() if isinstance(content, str) else content
    if b"-----BEGIN" in data or not data.strip():
        return data
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("the certificate content is neither PEM text nor base64 of a PFX or DER file") from None


def _der_length(data: bytes, offset: int) -> tuple[int, int | None]:
    """Start and end of the value of the DER element at ``offset`` (end None: BER indefinite length)."""
    if offset + 2 > len(data):
        raise _Truncated
    first = data[offset + 1]
    start = offset + 2
    if first == 0x80:
        return start, None
    if first & 0x80:
        count = first & 0x7F
        if start + count > len(data):
            raise _Truncated
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    else:
        length = first
    if start + length > len(data):
        raise _Truncated
    return start, start + length


class _Truncated(Exception):
    """A DER length runs past the end of the data."""


def sniff_format(data: bytes, source: str) -> str:
    """``pem``, ``pfx`` or ``der`` for the bytes of a certificate file; raises for anything else."""
    if b"-----BEGIN" in data:
        return "pem"
    if len(data) < 4 or data[0] != 0x30:
        raise CertificateError(f"{source} is not a certificate: it is neither PEM, DER nor PFX (PKCS#12) data")
    try:
        start, end = _der_length(data, 0)
    except _Truncated:
        raise CertificateError(f"{source} is truncated: its data ends early; copy or export the file again") from None
    if end is not None and end < len(data.rstrip(b"\0\r\n ")):
        raise CertificateError(f"{source} is corrupt: it holds data after the end of its certificate structure")
    if start < len(data) and data[start] == 0x02:
        return "pfx"
    if start < len(data) and data[start] == 0x30:
        return "der"
    raise CertificateError(f"{source} is not a certificate: it is neither PEM, DER nor PFX (PKCS#12) data")


def load_certificate(path: str | None = None, content: str | bytes | None = None, password: str | None = None,
                     fmt: str = "auto", read_keys: bool = True) -> Bundle:
    """Read a certificate file (``path``) or text (``content``: PEM, or base64 of PFX/DER) into a :class:`Bundle`."""
    if (path is None) == (content is None):
        raise CertificateError("give exactly one of path or content")
    if fmt not in FORMATS:
        raise CertificateError(f"unknown certificate format {fmt!r}: use one of {', '.join(FORMATS)}")
    source = f"certificate file {path!r}" if path is not None else "the certificate content"
    data = _read_path(path) if path is not None else _decode_content(content or "")
    if not data.strip():
        raise CertificateError(f"{source} is empty")
    kind = sniff_format(data, source) if fmt == "auto" else fmt
    crypto = _crypto()
    if kind == "pfx":
        return _load_pfx(crypto, data, password, source)
    if kind == "pem":
        return _load_pem(crypto, data, password, source, read_keys)
    try:
        cert = crypto.x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError(f"{source} is corrupt: it is not a readable DER certificate") from None
    return Bundle(cert, [], "der", source)


def _load_pfx(crypto: _Crypto, data: bytes, password: str | None, source: str) -> Bundle:
    try:
        _der_length(data, 0)
        loaded = crypto.pkcs12.load_pkcs12(data, password.encode() if password else None)
    except _Truncated:
        raise CertificateError(f"{source} is truncated: its data ends early; copy or export the file again") from None
    except (ValueError, TypeError):
        raise CertificateError(_pfx_problem(data, password, source)) from None
    certs = [item.certificate for item in loaded.additional_certs]
    friendly = loaded.cert.friendly_name if loaded.cert else None
    if loaded.cert is not None:
        leaf = loaded.cert.certificate
    else:
        leaf = pick_leaf(certs)
        friendly = next((item.friendly_name for item in loaded.additional_certs if item.certificate is leaf), None)
    if leaf is None:
        raise CertificateError(f"{source} holds no certificate")
    others = [cert for cert in certs if cert is not leaf]
    name = friendly.decode("utf-8", "replace") if friendly else None
    return Bundle(leaf, others, "pfx", source, name, loaded.key)


def _pfx_problem(data: bytes, password: str | None, source: str) -> str:
    """Why a PFX did not open: wrong password (its MAC says so), legacy encryption, or damage."""
    mac_ok = _pfx_mac_matches(data, password)
    if mac_ok is False:
        given = "" if password else " (no password was given)"
        return f"wrong password for {source}{given}: give the password the PFX was exported with"
    legacy = re.search(re.escape(_LEGACY_PBE_PREFIX) + b"[\x01-\x06]", data) is not None
    if mac_ok and legacy:
        return (f"{source} uses legacy RC2/3DES PFX encryption that this OpenSSL build cannot decrypt: export it "
                "again with AES256-SHA256 encryption, or convert it with 'openssl pkcs12 -legacy' on a machine "
                "that supports it")
    if mac_ok:
        return f"{source} is corrupt: the password is right but its contents cannot be read; export the PFX again"
    return f"{source} cannot be opened: wrong password, or the file is damaged; check the password and export it again"


def _der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, value start, value end) of each DER element between ``start`` and ``end``."""
    children = []
    offset = start
    while offset < end:
        value_start, value_end = _der_length(data, offset)
        if value_end is None:
            raise _Truncated
        children.append((data[offset], value_start, value_end))
        offset = value_end
    return children


def _oid(data: bytes) -> str:
    first = data[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in data[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(part) for part in parts)


def _pfx_mac_matches(data: bytes, password: str | None) -> bool | None:
    """Check the PFX integrity MAC (RFC 7292 appendix B) with ``password``; None when it cannot be checked."""
    try:
        start, end = _der_length(data, 0)
        items = _der_children(data, start, end or len(data))
        if len(items) < 3:
            return None
        _tag, content_start, content_end = items[1]
        content = _der_children(data, content_start, content_end)  # contentType, [0] content
        _tag, explicit_start, explicit_end = content[1]
        octets = _der_children(data, explicit_start, explicit_end)[0]
        if octets[0] != 0x04:
            return None
        auth_safe = data[octets[1]:octets[2]]
        mac_data = _der_children(data, items[2][1], items[2][2])
        digest_info = _der_children(data, mac_data[0][1], mac_data[0][2])
        algorithm = _der_children(data, digest_info[0][1], digest_info[0][2])
        hash_name = _MAC_HASHES.get(_oid(data[algorithm[0][1]:algorithm[0][2]]))
        expected = data[digest_info[1][1]:digest_info[1][2]]
        salt = data[mac_data[1][1]:mac_data[1][2]]
        iterations = int.from_bytes(data[mac_data[2][1]:mac_data[2][2]], "big") if len(mac_data) > 2 else 1
    except (_Truncated, IndexError, ValueError):
        return None
    if hash_name is None:
        return None
    secrets = [password.encode("utf-16-be") + b"\0\0"] if password else [b"", b"\0\0"]
    for secret in secrets:
        key = _pkcs12_kdf(hash_name, secret, salt, iterations, hashlib.new(hash_name).digest_size)
        if hmac.compare_digest(hmac.new(key, auth_safe, hash_name).digest(), expected):
            return True
    return False


def _pkcs12_kdf(hash_name: str, secret: bytes, salt: bytes, iterations: int, size: int) -> bytes:
    """The PKCS#12 key derivation of RFC 7292 appendix B.2 with ID 3 (MAC key)."""
    block = hashlib.new(hash_name).block_size

    def stretch(value: bytes) -> bytes:  # repeat to a whole number of blocks (empty stays empty)
        if not value:
            return b""
        size = block * -(-len(value) // block)
        return (value * (size // len(value) + 1))[:size]

    diversifier = bytes([3]) * block
    material = bytearray(stretch(salt) + stretch(secret))
    out = b""
    while len(out) < size:
        digest = hashlib.new(hash_name, diversifier + bytes(material)).digest()
        for _round in range(iterations - 1):
            digest = hashlib.new(hash_name, digest).digest()
        out += digest
        filler = int.from_bytes((digest * (block // len(digest) + 1))[:block], "big") + 1
        for offset in range(0, len(material), block):
            chunk = (int.from_bytes(material[offset:offset + block], "big") + filler) % (1 << (8 * block))
            material[offset:offset + block] = chunk.to_bytes(block, "big")
    return out[:size]


def _load_pem(crypto: _Crypto, data: bytes, password: str | None, source: str, read_keys: bool) -> Bundle:
    blocks = _PEM_BLOCK.findall(data)
    if len(blocks) < len(_PEM_BEGIN.findall(data)):
        raise CertificateError(f"{source} is truncated: a PEM block has no END line; copy the whole file again")
    certs = []
    keys = []
    for label, _body in blocks:
        text = b"-----BEGIN %s-----\n%s-----END %s-----\n" % (label, _body, label)
        if label in (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"):
            try:
                certs.append(crypto.x509.load_pem_x509_certificate(text.replace(b"TRUSTED CERTIFICATE", b"CERTIFICATE")))
            except ValueError:
                raise CertificateError(f"{source} is corrupt: a PEM certificate block cannot be read") from None
        elif label.endswith(b"PRIVATE KEY") and read_keys:
            keys.append(_load_pem_key(crypto, text, password, source))
    if not certs:
        raise CertificateError(f"{source} holds no certificate (no '-----BEGIN CERTIFICATE-----' block)")
    key = keys[0] if keys else None
    leaf = None
    for candidate_key in keys:
        leaf = next((cert for cert in certs if _same_public_key(crypto, cert, candidate_key)), None)
        if leaf is not None:
            key = candidate_key
            break
    leaf = leaf or pick_leaf(certs)
    return Bundle(leaf, [cert for cert in certs if cert is not leaf], "pem", source, None, key)


def _load_pem_key(crypto: _Crypto, text: bytes, password: str | None, source: str) -> Any:
    secret = password.encode() if password else None
    try:
        try:
            return crypto.serialization.load_pem_private_key(text, secret)
        except TypeError:
            if secret is None:
                raise CertificateError(f"wrong password for {source} (no password was given): its private key is "
                                       "encrypted; give the password") from None
            return crypto.serialization.load_pem_private_key(text, None)
    except ValueError as exc:
        if "decrypt" in str(exc).lower() or "password" in str(exc).lower():
            raise CertificateError(f"wrong password for {source}: its private key cannot be decrypted with it") from None
        raise CertificateError(f"{source} is corrupt: its private key block cannot be read") from None


def _same_public_key(crypto: _Crypto, cert: Any, key: Any) -> bool:
    spki = crypto.serialization.Encoding.DER, crypto.serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki))


def _is_ca(cert: Any) -> bool:
    constraints = _extension(cert, "BASIC_CONSTRAINTS")
    return bool(constraints is not None and constraints.ca)


def pick_leaf(certs: list[Any]) -> Any:
    """The end-entity certificate among ``certs``: not a CA and not the issuer of another one."""
    if not certs:
        return None
    issuers = {cert.issuer for cert in certs if cert.issuer != cert.subject}
    for candidates in ([c for c in certs if not _is_ca(c) and c.subject not in issuers],
                       [c for c in certs if c.subject not in issuers]):
        if candidates:
            return candidates[0]
    return certs[0]


# ---------------------------------------------------------------------------------------------- facts


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _extension(cert: Any, oid_name: str) -> Any:
    """The value of the extension ``oid_name`` (an ``ExtensionOID`` attribute), or None."""
    x509 = _crypto().x509
    try:
        return cert.extensions.get_extension_for_oid(getattr(x509.oid.ExtensionOID, oid_name)).value
    except x509.ExtensionNotFound:
        return None


def common_name(cert: Any) -> str | None:
    """The first CN of the subject, or None."""
    x509 = _crypto().x509
    values = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def dns_sans(cert: Any) -> list[str]:
    """The DNS names of the Subject Alternative Name extension."""
    san = _extension(cert, "SUBJECT_ALTERNATIVE_NAME")
    return list(san.get_values_for_type(_crypto().x509.DNSName)) if san is not None else []


def _eku_names(cert: Any) -> list[str] | None:
    eku = _extension(cert, "EXTENDED_KEY_USAGE")
    if eku is None:
        return None
    oids = _crypto().x509.oid.ExtendedKeyUsageOID
    names = {oids.SERVER_AUTH: "serverAuth", oids.CLIENT_AUTH: "clientAuth", oids.CODE_SIGNING: "codeSigning",
             oids.EMAIL_PROTECTION: "emailProtection", oids.TIME_STAMPING: "timeStamping",
             oids.OCSP_SIGNING: "OCSPSigning", oids.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage"}
    return [names.get(oid, oid.dotted_string) for oid in eku]


def _key_usage(cert: Any) -> list[str]:
    usage = _extension(cert, "KEY_USAGE")
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


def _key_type(crypto: _Crypto, public_key: Any) -> tuple[str, int | None]:
    for kind, cls in (("RSA", crypto.rsa.RSAPublicKey), ("EC", crypto.ec.EllipticCurvePublicKey),
                      ("DSA", crypto.dsa.DSAPublicKey), ("Ed25519", crypto.ed25519.Ed25519PublicKey),
                      ("Ed448", crypto.ed448.Ed448PublicKey)):
        if isinstance(public_key, cls):
            return kind, getattr(public_key, "key_size", None)
    return type(public_key).__name__, None


def signature_hash(cert: Any) -> str | None:
    """The signature's hash algorithm name (``sha256``, ``sha1``...), None when it has none (Ed25519)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # pylint: disable=broad-except  # UnsupportedAlgorithm: fall back to the OID's name
        name = getattr(cert.signature_algorithm_oid, "_name", "")
        return "md5" if "md5" in name.lower() else ("sha1" if "sha1" in name.lower() else name or None)
    return algorithm.name if algorithm is not None else None


def certificate_facts(cert: Any, bundle: Bundle | None = None, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The facts of ``cert`` as the module returns them (no secret: the key is only compared)."""
    crypto = _crypto()
    now = now or _utcnow()
    key_type, key_size = _key_type(crypto, cert.public_key())
    sans = dns_sans(cert)
    cn = common_name(cert)
    key = bundle.key if bundle else None
    der = cert.public_bytes(crypto.serialization.Encoding.DER)
    return {
        "subject": cert.subject.rfc4514_string(),
        "common_name": cn,
        "sans": sans,
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "thumbprint": hashlib.sha1(der).hexdigest().upper(),  # nosec B324 - the Windows thumbprint is SHA-1
        "sha256_fingerprint": hashlib.sha256(der).hexdigest().upper(),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "days_remaining": int((cert.not_valid_after_utc - now).total_seconds() // 86400),
        "key_type": key_type,
        "key_size": key_size,
        "signature_hash": signature_hash(cert),
        "eku": _eku_names(cert),
        "key_usage": _key_usage(cert),
        "wildcard": any(is_wildcard(name) for name in sans + ([cn] if cn else [])),
        "has_private_key": key is not None,
        "private_key_matches": _same_public_key(crypto, cert, key) if key is not None else None,
        "friendly_name": bundle.friendly_name if bundle else None,
    }


def certificate_info(text: str | bytes) -> dict[str, Any]:
    """Facts of the leaf certificate in PEM text (private keys in the text are not read)."""
    bundle = load_certificate(content=text, fmt="auto", read_keys=False)
    facts = certificate_facts(bundle.leaf, bundle)
    for secret_related in ("has_private_key", "private_key_matches", "friendly_name"):
        facts.pop(secret_related)
    return facts


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
        return [finding(EKU_NO_SERVER_AUTH, f"the Enhanced Key Usage ({', '.join(facts['eku'])}) lacks Server "
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
    """The service name, the naming dict and the name findings (CN, coverage, naming rules)."""
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
    elif cn and not covers(cn, service):
        found.append(finding(CN_NOT_SERVICE_NAME, f"the common name {cn!r} is not the service name {service!r}: the CMG "
                                                  "takes its service name from the CN, not from the SANs; request a "
                                                  f"certificate whose CN is {service!r}"))
    names = derive_names(service, region, cloud, content_enabled=content_enabled)
    for problem in names["problems"]:  # type: ignore[attr-defined]
        code = NAME_PROBLEM_CODES.get(problem["resource"], f"name_{problem['resource']}")
        found.append(finding(code, problem["message"], problem["severity"]))
    return service, names, found


def _signed_by(cert: Any, issuer: Any) -> bool:
    """True when ``issuer`` issued ``cert`` (names match and the signature verifies, weak hashes included)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # pylint: disable=broad-except  # refused algorithm (SHA-1): verify the signature below
        pass
    crypto = _crypto()
    public_key = issuer.public_key()
    try:
        if isinstance(public_key, crypto.rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_parameters,
                              cert.signature_hash_algorithm)
        elif isinstance(public_key, crypto.ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, crypto.ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except Exception:  # pylint: disable=broad-except  # InvalidSignature, unsupported algorithm
        return False
    return True


def _self_signed(cert: Any) -> bool:
    return cert.issuer == cert.subject and _signed_by(cert, cert)


def _fingerprint(cert: Any) -> bytes:
    return bytes(cert.fingerprint(_crypto().hashes.SHA256()))


@dataclass
class TrustStore:
    """Trust anchors: the public store (``trust``) and the enterprise roots and intermediates (``ca_bundle``)."""

    public: list[Any]
    enterprise: list[Any]
    intermediates: list[Any]
    findings: list[dict[str, str]] = field(default_factory=list)


def read_pem_certificates(data: bytes) -> list[Any]:
    """Every readable certificate of a PEM bundle (unreadable blocks of a trust store are skipped)."""
    x509 = _crypto().x509
    certs = []
    with warnings.catch_warnings():  # old roots with negative serial numbers warn: still usable anchors
        warnings.simplefilter("ignore")
        for label, body in _PEM_BLOCK.findall(data):
            if label in (b"CERTIFICATE", b"TRUSTED CERTIFICATE"):
                try:
                    certs.append(x509.load_pem_x509_certificate(
                        b"-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n" % body))
                except ValueError:
                    continue
    return certs


def _read_store_path(path: str, what: str) -> list[Any]:
    if os.path.isdir(path):
        certs = []
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if os.path.isfile(full):
                certs += read_pem_certificates(_read_path(full))
        return certs
    if not os.path.exists(path):
        raise CertificateError(f"the {what} {path!r} does not exist on the host that runs the task")
    certs = read_pem_certificates(_read_path(path))
    if not certs:
        raise CertificateError(f"the {what} {path!r} holds no PEM certificate")
    return certs


def _certifi_roots() -> tuple[list[Any], list[dict[str, str]]]:
    try:
        import certifi
    except ImportError as exc:
        raise MissingDependencyError("certifi", exc) from exc
    where = os.path.realpath(certifi.where())
    package = os.path.realpath(os.path.dirname(certifi.__file__))
    found = []
    if os.path.commonpath([where, package]) != package:
        found.append(finding(TRUST_STORE_NOT_CERTIFI, f"certifi.where() points to {where}, outside the certifi "
                                                      "package (a distribution patched it): public trust was judged "
                                                      "against that file, not Mozilla's list; pip install certifi "
                                                      "in a virtual environment for Mozilla's list"))
    return _read_store_path(where, "certifi trust store"), found


def _system_roots() -> list[Any]:
    import ssl  # pylint: disable=import-outside-toplevel  # only trust=system needs it

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, paths.capath, paths.openssl_capath):
        if candidate and os.path.exists(candidate):
            return _read_store_path(candidate, "system trust store")
    raise CertificateError("no system trust store found on the host that runs the task: use trust=certifi or a path")


def load_trust(trust: str = "certifi", ca_bundle: str | None = None) -> TrustStore:
    """The public trust store (``certifi``, ``system`` or a path) and the enterprise ``ca_bundle`` (path or PEM)."""
    findings: list[dict[str, str]] = []
    if trust == "certifi":
        public, findings = _certifi_roots()
    elif trust == "system":
        public = _system_roots()
    else:
        public = _read_store_path(trust, "trust store")
    extra: list[Any] = []
    if ca_bundle:
        extra = (read_pem_certificates(ca_bundle.encode()) if "-----BEGIN" in ca_bundle
                 else _read_store_path(ca_bundle, "ca_bundle"))
    roots = [cert for cert in extra if _self_signed(cert)]
    return TrustStore(public, roots, [cert for cert in extra if not _self_signed(cert)], findings)


def _find_issuer(cert: Any, candidates: list[Any], used: list[Any]) -> Any:
    for candidate in candidates:
        if candidate.subject == cert.issuer and all(candidate is not seen for seen in used) and _signed_by(cert, candidate):
            return candidate
    return None


def build_path(leaf: Any, others: list[Any], store: TrustStore) -> tuple[list[Any], str]:
    """The issuer path from ``leaf`` and the trust it reaches: ``public``, ``enterprise`` or ``untrusted``.

    ``unknown`` when the leaf's issuer is nowhere to be found (a PFX without its intermediates): whether it
    chains to a trusted root cannot be judged. A path that stops at a CA certificate whose issuer is unknown is
    ``untrusted``: the root (or an upper CA) is missing from the trust store and ca_bundle.
    """
    anchors = [(store.public, "public"), (store.enterprise, "enterprise")]
    anchor_prints = {_fingerprint(cert): kind for certs, kind in reversed(anchors) for cert in certs}
    pool = others + store.intermediates
    path = [leaf]
    current = leaf
    for _depth in range(MAX_CHAIN_DEPTH):
        kind = anchor_prints.get(_fingerprint(current))
        if kind:
            return path, kind
        for certs, kind in anchors:
            anchor = _find_issuer(current, certs, path)
            if anchor is not None:
                return path + [anchor], kind
        if _self_signed(current):
            break
        current = _find_issuer(current, pool, path)
        if current is None:
            return path, "unknown" if len(path) == 1 else "untrusted"
        path.append(current)
    return path, "untrusted"


def _verified_name(sans: list[str], service: str | None) -> str:
    """The DNS name the server verifier checks: the service name when the SANs cover it, else a name they cover.

    A service name the SANs do not cover is ``name_not_covered``; path validation judges only the chain.
    """
    if service and any(covers(pattern, service) for pattern in sans):
        return service
    first = sans[0]
    return "cmg" + first[1:] if first.startswith("*.") else first


def _path_validation_error(path: list[Any], now: datetime.datetime, service: str | None = None) -> str | None:
    """Why cryptography's path validation (CA constraints, validity, signatures) refuses ``path``, or None.

    A leaf with SANs is verified as a TLS server for the service name (so an issuing CA limited to the
    serverAuth EKU is fine); a leaf without SAN as a client, with any EKU allowed on the CAs. The leaf's own
    extensions are judged by the checks above (``permit_all``). cryptography < 45 has no extension policies:
    then only the own path building judges the chain.
    """
    try:
        from cryptography import x509
        from cryptography.x509 import verification
        agnostic = verification.Criticality.AGNOSTIC
        builder = verification.PolicyBuilder().store(verification.Store([path[-1]])).time(now)
        sans = dns_sans(path[0])
        if sans:
            policy = verification.ExtensionPolicy.permit_all().require_present(x509.SubjectAlternativeName, agnostic, None)
            verifier = (builder.extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=policy)
                        .build_server_verifier(x509.DNSName(_verified_name(sans, service))))
        else:
            ca_policy = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, agnostic, None)
            verifier = (builder.extension_policies(ca_policy=ca_policy, ee_policy=verification.ExtensionPolicy.permit_all())
                        .build_client_verifier())
    except (ImportError, AttributeError):  # cryptography < 45
        return None
    except ValueError:  # a SAN the verifier cannot take as a DNS name (not an A-label): no path validation
        return None
    try:
        verifier.verify(path[0], path[1:-1])
    except verification.VerificationError as exc:
        return str(exc).splitlines()[0][:300]
    return None


def _issuer_unknown(leaf: Any) -> dict[str, str]:
    """chain_incomplete for a leaf whose issuer is not in the file, ca_bundle or the trust store (trust ``unknown``)."""
    x509 = _crypto().x509
    access = _extension(leaf, "AUTHORITY_INFORMATION_ACCESS") or []
    published = [item.access_location.value for item in access
                 if item.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS
                 and isinstance(item.access_location, x509.UniformResourceIdentifier)]
    where = f" (published at {published[0]})" if published else ""
    return finding(CHAIN_INCOMPLETE, f"the issuer {leaf.issuer.rfc4514_string()!r}{where} is not in the file, ca_bundle "
                                     "or the trust store, so trust cannot be judged without it: add the intermediate "
                                     "certificates to the PFX ('Include all certificates in the certification path') "
                                     "or to ca_bundle")


def chain_findings(bundle: Bundle, store: TrustStore, leaf_findings: list[dict[str, str]], now: datetime.datetime,
                   service: str | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The chain dict (trust, complete, subjects) and its findings."""
    leaf = bundle.leaf
    path, trust = build_path(leaf, bundle.others, store)
    own = {_fingerprint(cert) for cert in bundle.others}
    missing = [cert for cert in path[1:-1] if _fingerprint(cert) not in own]
    if trust == "untrusted" and not _self_signed(path[-1]):
        missing.append(None)
    chain = {"trust": trust, "complete": not missing and trust != "unknown",
             "subjects": [cert.subject.rfc4514_string() for cert in path]}
    found = list(store.findings)
    if _self_signed(leaf):
        found.append(finding(SELF_SIGNED, "the certificate is self-signed: internet clients will not trust it; "
                                          "request it from a public CA or your enterprise PKI"))
    if trust == "unknown":
        return chain, found + [_issuer_unknown(path[-1])]
    if trust == "untrusted":
        top = path[-1]
        why = (f"its issuer {top.issuer.rfc4514_string()!r} is not in the file, the trust store or ca_bundle"
               if not _self_signed(top) else f"its root {top.subject.rfc4514_string()!r} is not trusted")
        found.append(finding(CHAIN_UNTRUSTED, f"the chain reaches no trusted root: {why}; add the enterprise root to "
                                              "ca_bundle, or use a certificate from a trusted CA"))
        return chain, found
    leaf_codes = {item["code"] for item in leaf_findings}
    if not leaf_codes & {NOT_YET_VALID, EXPIRED, WEAK_SIGNATURE_HASH} and len(path) > 1:
        reason = _path_validation_error(path, now, service)
        if reason:
            found.append(finding(CHAIN_INVALID, f"the chain to {path[-1].subject.rfc4514_string()!r} fails path "
                                                f"validation ({reason}): fix or reissue the certificate or its CA"))
    if missing:
        names = ", ".join(repr(cert.subject.rfc4514_string()) for cert in missing)
        found.append(finding(CHAIN_INCOMPLETE, f"the file lacks the intermediate certificate(s) {names}: export the PFX "
                                               "with 'Include all certificates in the certification path'"))
    if trust == "enterprise":
        found.append(finding(CHAIN_ENTERPRISE, f"the chain ends at the enterprise root "
                                               f"{path[-1].subject.rfc4514_string()!r}: every internet-based client "
                                               "must trust this root (and reach its CRL), or use a public CA"))
    return chain, found


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


def _crl_urls(cert: Any) -> list[str]:
    uri = _crypto().x509.UniformResourceIdentifier
    points = _extension(cert, "CRL_DISTRIBUTION_POINTS") or []
    return [name.value for point in points for name in point.full_name or [] if isinstance(name, uri)]


def _aia_urls(cert: Any) -> list[str]:
    uri = _crypto().x509.UniformResourceIdentifier
    access = _extension(cert, "AUTHORITY_INFORMATION_ACCESS") or []
    return [item.access_location.value for item in access if isinstance(item.access_location, uri)]


def revocation_findings(cert: Any, check_urls: bool = False, timeout: float = 5.0) -> list[dict[str, str]]:
    """CRL distribution points and AIA must have http URLs internet clients can reach."""
    found = []
    for urls, code, what in ((_crl_urls(cert), CRL_NOT_PUBLISHED, "CRL distribution point"),
                             (_aia_urls(cert), AIA_NOT_PUBLISHED, "authority information access (AIA)")):
        http = [url for url in urls if url.lower().startswith(("http://", "https://"))]
        if not http:
            seen = f" (only {', '.join(urls)})" if urls else ""
            found.append(finding(code, f"the certificate has no http {what} URL{seen}: internet clients cannot check "
                                       "it; publish the CA's CRL and AIA over http and reissue"))
        elif check_urls:
            for url in http:
                error = _unreachable(url, timeout)
                if error:
                    found.append(finding(URL_UNREACHABLE, f"{url} cannot be reached ({error}): internet clients "
                                                          "need it; publish it on an internet-facing web server"))
    return found


def _unreachable(url: str, timeout: float) -> str | None:
    """Why ``url`` cannot be fetched (an error or a status other than 2xx/3xx), or None when it answers."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
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


def _previous_common_name(previous: str, password: str | None) -> str | None:
    """The CN of ``previous_certificate`` (path or PEM text; a PFX opens with the main ``password``)."""
    pem_text = "-----BEGIN" in previous
    source = {"content": previous} if pem_text else {"path": previous}
    try:
        return common_name(load_certificate(**source, password=password, read_keys=False).leaf)
    except CertificateError as exc:
        label = "(PEM text)" if pem_text else previous
        raise CertificateError(f"previous_certificate {label}: {exc} (give the previous certificate as PEM/DER or a PFX "
                               "with the same password)") from None


def renewal_findings(cn: str | None, previous: str | None, password: str | None = None) -> list[dict[str, str]]:
    """A renewal must keep the common name exactly, case included."""
    if not previous:
        return []
    old = _previous_common_name(previous, password)
    if old == cn:
        return []
    detail = " (they differ only in case)" if (old or "").lower() == (cn or "").lower() else ""
    return [finding(RENEWAL_CN_MISMATCH, f"the common name {cn!r} differs from the previous certificate's {old!r}"
                                         f"{detail}: a renewed CMG certificate must keep the same CN, case included")]


def worst_severity(findings: list[dict[str, str]]) -> str | None:
    """``error``, ``warning`` or ``info`` (the worst among ``findings``), None when there are none."""
    ranks = [SEVERITY_RANK[item["severity"]] for item in findings]
    return {rank: name for name, rank in SEVERITY_RANK.items()}[max(ranks)] if ranks else None


def validate(path: str | None = None, content: str | None = None, password: str | None = None, fmt: str = "auto",
             service_name: str | None = None, prefix: str | None = None, region: str | None = None,
             cloud_environment: str | None = None, content_enabled: bool = False, trust: str = "certifi",
             ca_bundle: str | None = None, min_days_remaining: int = 30, previous_certificate: str | None = None,
             check_urls: bool = False, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Load and judge a CMG certificate: ``valid``, ``findings``, ``certificate``, ``chain``, ``service_name``, ``names``."""
    cloud_names(cloud_environment)
    if service_name:
        normalize_fqdn(service_name, allow_wildcard=True)
    now = now or _utcnow()
    bundle = load_certificate(path, content, password, fmt)
    store = load_trust(trust, ca_bundle)
    facts = certificate_facts(bundle.leaf, bundle, now)
    found = key_findings(bundle, facts) + eku_findings(facts) + time_findings(bundle.leaf, facts, now, min_days_remaining)
    found += hash_findings(facts)
    service, names, naming = name_findings(facts, service_name, prefix, region, cloud_environment, content_enabled)
    found += naming
    chain, chained = chain_findings(bundle, store, found, now, service)
    found += chained
    found += azure_domain_findings(([service] if service else []) + facts["sans"]
                                   + ([facts["common_name"]] if facts["common_name"] else []), chain["trust"])
    if not _self_signed(bundle.leaf):
        found += revocation_findings(bundle.leaf, check_urls)
    found += renewal_findings(facts["common_name"], previous_certificate, password)
    return {"valid": worst_severity(found) != "error", "findings": found, "certificate": facts, "chain": chain,
            "service_name": service, "names": names}
