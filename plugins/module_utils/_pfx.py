# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PFX (PKCS#12) the Configuration Manager console imports: certificate, private key and full chain.

``modern`` encryption is what current Windows writes and imports (PBES2 with PBKDF2-SHA256 and
AES-256-CBC, HMAC-SHA256 integrity); ``legacy`` is TripleDES-SHA1 with an HMAC-SHA1 MAC for old
consoles. A PFX is built from a certificate, its key and chain, or re-packaged from an existing PFX
(legacy RC2, missing intermediates). Before anything is written the new PFX is judged by the
collection's certificate validation (:func:`validate_pfx`); the file is written atomically with
mode 0600, and not at all when the PFX already there holds the same key, certificate, chain and
encryption (PFX encryption is salted, so contents are compared, never bytes).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ._cert_load import open_pkcs12
from ._cert_request import load_private_key
from ._errors import CertificateError, MissingDependencyError
from ._secure_file import read_bounded, write_atomic

ENCRYPTIONS = ("modern", "legacy")
MODERN_KDF_ROUNDS = 50000
LEGACY_KDF_ROUNDS = 2048

# DER encodings (tag, length, value) of the algorithm identifiers that tell PFX encryptions apart.
_OIDS = {
    "pbes2": bytes.fromhex("06092a864886f70d01050d"),
    "aes256": bytes.fromhex("060960864801650304012a"),
    "3des": bytes.fromhex("060a2a864886f70d010c0103"),
    "rc2_128": bytes.fromhex("060a2a864886f70d010c0105"),
    "rc2_40": bytes.fromhex("060a2a864886f70d010c0106"),
    "sha256": bytes.fromhex("0609608648016503040201"),
    "sha1": bytes.fromhex("06052b0e03021a"),
}


@dataclass(frozen=True)
class PfxSpec:
    """What to build and where: the sources, the output and how the result is judged."""

    path: str | None
    password: str
    encryption: str = "modern"
    certificate: str | None = None
    private_key: str | None = None
    private_key_passphrase: str | None = None
    chain: list[str] = field(default_factory=list)
    source_pfx: str | None = None
    source_password: str | None = None
    friendly_name: str | None = None
    service_name: str | None = None
    trust: str = "certifi"
    ca_bundle: str | None = None
    min_days_remaining: int = 30
    previous_certificate: str | None = None
    cmg_name: str | None = None
    windows_directory: str = "C:\\CMG"


def _modules() -> Any:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError as exc:
        raise MissingDependencyError("cryptography", exc) from exc
    return x509, hashes, serialization, pkcs12


def _text_or_file(value: str, what: str) -> bytes:
    """PEM text as given, or the bytes of the file it names."""
    if "-----BEGIN" in value:
        return value.encode()
    data = read_bounded(value, what)
    if data is None:
        raise CertificateError(f"{what} {value} does not exist: give the path of the file, or its PEM text")
    return data


def _certificates(data: bytes, what: str) -> list[Any]:
    x509, _hashes, _serialization, _pkcs12 = _modules()
    try:
        if b"-----BEGIN" in data:
            return list(x509.load_pem_x509_certificates(data))
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise CertificateError(f"{what} cannot be read: not a PEM or DER certificate") from exc


def encryption_of(data: bytes) -> str:
    """``modern``, ``legacy``, ``rc2`` or ``other``: how an existing PFX is protected, from its algorithm identifiers."""
    found = {name for name, oid in _OIDS.items() if oid in data}
    if found & {"rc2_40", "rc2_128"}:
        return "rc2"
    if {"pbes2", "aes256", "sha256"} <= found and "3des" not in found:
        return "modern"
    if {"3des", "sha1"} <= found and "pbes2" not in found:
        return "legacy"
    return "other"


def _der(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.DER)


def order_chain(leaf: Any, others: list[Any]) -> list[Any]:
    """``others`` without duplicates or the leaf, issuers in path order from the leaf, the rest after."""
    unique: list[Any] = []
    for cert in others:
        if _der(cert) != _der(leaf) and all(_der(cert) != _der(seen) for seen in unique):
            unique.append(cert)
    ordered: list[Any] = []
    current = leaf
    while len(ordered) < len(unique):
        issuer = next((c for c in unique if c not in ordered and c.subject == current.issuer), None)
        if issuer is None:
            break
        ordered.append(issuer)
        if issuer.subject == issuer.issuer:
            break
        current = issuer
    return ordered + [c for c in unique if c not in ordered]


def _same_key(key: Any, cert: Any) -> bool:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return (key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            == cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


@dataclass
class Contents:
    """What a PFX holds, in a comparable form."""

    key: Any
    leaf: Any
    chain: list[Any]
    friendly_name: str | None

    def fingerprint(self) -> tuple:
        """Key, leaf, chain and name as bytes: equal for equal contents whatever the salt."""
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
        key = self.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        return key, _der(self.leaf), [_der(cert) for cert in self.chain], self.friendly_name


def read_pfx(data: bytes, password: str | None, source: str) -> Contents:
    """The contents of a PFX, or a one-line :class:`CertificateError`."""
    _modules()  # a missing cryptography fails here with its pip line
    try:
        loaded = open_pkcs12(data, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{source} cannot be opened: wrong password, not a PFX, or an encryption this OpenSSL "
                               "build cannot decrypt") from exc
    if loaded.key is None or loaded.cert is None:
        raise CertificateError(f"{source} holds no private key with its certificate: export it again with the key")
    name = loaded.cert.friendly_name.decode("utf-8", "replace") if loaded.cert.friendly_name else None
    return Contents(loaded.key, loaded.cert.certificate, [c.certificate for c in loaded.additional_certs], name)


def wanted_contents(spec: PfxSpec) -> Contents:
    """The key, certificate and chain the new PFX must hold, from the sources of ``spec``."""
    if spec.source_pfx:
        data = read_bounded(spec.source_pfx, "source_pfx")
        if data is None:
            raise CertificateError(f"source_pfx {spec.source_pfx} does not exist: give the path of the PFX to re-package")
        source = read_pfx(data, spec.source_password if spec.source_password is not None else spec.password,
                          f"source_pfx {spec.source_pfx}")
        key, certs, name = source.key, [source.leaf, *source.chain], source.friendly_name
    else:
        if not spec.certificate or not spec.private_key:
            raise CertificateError("give certificate and private_key, or source_pfx to re-package")
        certs = _certificates(_text_or_file(spec.certificate, "certificate"), "certificate")
        key = load_private_key(_text_or_file(spec.private_key, "private_key"), spec.private_key_passphrase,
                               "private_key")
        name = None
    for item in spec.chain:
        certs += _certificates(_text_or_file(item, "chain"), f"chain {item[:60]!r}")
    leaf = next((cert for cert in certs if _same_key(key, cert)), None)
    if leaf is None:
        raise CertificateError("no certificate matches the private key: give the certificate issued for this key")
    from ._certificate import common_name
    name = spec.friendly_name or name or common_name(leaf)
    return Contents(key, leaf, order_chain(leaf, [c for c in certs if c is not leaf]), name)


def build_pfx(contents: Contents, password: str, encryption: str) -> bytes:
    """The PFX bytes with the chosen encryption."""
    _x509, hashes, serialization, pkcs12 = _modules()
    builder = serialization.PrivateFormat.PKCS12.encryption_builder()
    if encryption == "legacy":
        builder = (builder.kdf_rounds(LEGACY_KDF_ROUNDS).key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                   .hmac_hash(hashes.SHA1()))
    else:
        builder = (builder.kdf_rounds(MODERN_KDF_ROUNDS).key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                   .hmac_hash(hashes.SHA256()))
    name = contents.friendly_name.encode() if contents.friendly_name else None
    encryption_algorithm = builder.build(password.encode())
    return pkcs12.serialize_key_and_certificates(name, contents.key, contents.leaf, contents.chain, encryption_algorithm)


def validate_pfx(data: bytes, spec: PfxSpec) -> dict[str, Any]:
    """THE one call into the collection's certificate validation (re-point here when its API changes)."""
    from ._certificate import validate
    return validate(content=base64.b64encode(data).decode(), password=spec.password, fmt="pfx",
                    service_name=spec.service_name, trust=spec.trust, ca_bundle=spec.ca_bundle,
                    min_days_remaining=spec.min_days_remaining, previous_certificate=spec.previous_certificate)


def upload_step(spec: PfxSpec, thumbprint: str) -> dict[str, str]:
    """The ConfigMgr PowerShell that sets this PFX as the CMG's server certificate (version 2006 and later).

    Parameters as in Microsoft's reference of Set-CMCloudManagementGateway (-Name, -ServiceCertPath,
    -ServiceCertPassword as a SecureString); the password is read at the prompt, never written here.
    ConfigMgr cmdlets run from the site drive (PS XYZ:\\>), so the path must be absolute.
    """
    name = (spec.path or "cmg.pfx").replace("\\", "/").rsplit("/", 1)[-1]
    target = spec.windows_directory.rstrip("\\") + "\\" + name
    command = (f'Set-CMCloudManagementGateway -Name "{spec.cmg_name}" -ServiceCertPath "{target}" '
               '-ServiceCertPassword (Read-Host -AsSecureString -Prompt "PFX password")')
    return {"copy_to": target, "powershell": command, "thumbprint": thumbprint}


def _facts(contents: Contents, encryption: str) -> dict[str, Any]:
    from ._certificate import common_name
    from cryptography.hazmat.primitives import hashes
    return {"subject": contents.leaf.subject.rfc4514_string(), "common_name": common_name(contents.leaf),
            "thumbprint": contents.leaf.fingerprint(hashes.SHA1()).hex().upper(),
            "chain": [cert.subject.rfc4514_string() for cert in contents.chain],
            "friendly_name": contents.friendly_name, "encryption": encryption}


def make_pfx(spec: PfxSpec, check_mode: bool = False) -> dict[str, Any]:
    """Build (or keep) the PFX, judge it, write it; the module result."""
    if spec.encryption not in ENCRYPTIONS:
        raise CertificateError(f"encryption must be modern or legacy, not {spec.encryption!r}")
    if not spec.password:
        raise CertificateError("password is empty: the PFX holds the private key and must be protected")
    wanted = wanted_contents(spec)
    existing_data = read_bounded(spec.path, "the PFX") if spec.path else None
    before: dict[str, Any] = {}
    data = None
    if existing_data is not None:
        try:
            current = read_pfx(existing_data, spec.password, f"the PFX {spec.path}")
        except CertificateError as exc:
            raise CertificateError(f"{exc}; it is not overwritten: give its password, or another path") from exc
        before = _facts(current, encryption_of(existing_data))
        if current.fingerprint() == wanted.fingerprint() and before["encryption"] == spec.encryption:
            data = existing_data
    changed = data is None
    if data is None:
        data = build_pfx(wanted, spec.password, spec.encryption)
    validation = validate_pfx(data, spec)
    result: dict[str, Any] = {"changed": changed and bool(spec.path), "path": spec.path, "validation": validation,
                              "valid": validation["valid"], **_facts(wanted, encryption_of(data)),
                              "diff": {"before": before, "after": _facts(wanted, spec.encryption)}}
    if not validation["valid"]:
        errors = [f"{item['code']}: {item['message']}" for item in validation["findings"] if item["severity"] == "error"]
        result.update(failed=True, changed=False,
                      msg="the new PFX fails the certificate validation, nothing was written: " + "; ".join(errors))
        return result
    if spec.cmg_name:
        result["upload"] = upload_step(spec, result["thumbprint"])
    if not spec.path:
        result["pfx"] = base64.b64encode(data).decode()
    elif changed and not check_mode:
        write_atomic(spec.path, data)
    return result
