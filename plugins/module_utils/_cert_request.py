# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG server authentication key and certificate signing request (CSR).

The key is RSA 2048 or 4096 (the only sizes the CMG accepts). The CSR's subject is exactly
``CN=<service name>``, case kept (a renewal must keep the CN of the current certificate, case
included), with the service name as DNS SAN, the Server Authentication EKU and SHA-256. The key
is only ever written or returned encrypted (PKCS#8 with the caller's passphrase); files are
written atomically with mode 0600. A CSR that already asks for the wanted subject with the wanted
key is left as it is, so a second run changes nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from ._errors import CertificateError, MissingDependencyError
from ._hostnames import normalize_fqdn
from ._secure_file import SECRET_MODE, mode_of, read_bounded, write_atomic

KEY_SIZES = (2048, 4096)
SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1"
DEFAULT_TEMPLATE = "WebServer"


@dataclass(frozen=True)
class RequestSpec:
    """What the caller wants: the service name, key size, passphrase and where to keep things."""

    service_name: str
    passphrase: str
    key_size: int = 2048
    private_key_path: str | None = None
    private_key_content: str | None = None
    csr_path: str | None = None
    template: str = DEFAULT_TEMPLATE
    ca_config: str | None = None


def crypto() -> Any:
    """cryptography's x509 and primitives, imported on first need."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as exc:
        raise MissingDependencyError("cryptography", exc) from exc
    return x509, hashes, serialization, rsa


def load_private_key(data: bytes, passphrase: str | None, source: str) -> Any:
    """An RSA private key from PEM or DER (encrypted with ``passphrase``); one-line errors."""
    _x509, _hashes, serialization, rsa = crypto()
    secret = passphrase.encode() if passphrase else None
    loaders = (serialization.load_pem_private_key,) if b"-----BEGIN" in data else (serialization.load_der_private_key,)
    try:
        key = loaders[0](data, password=secret)
    except TypeError as exc:
        if secret:
            raise CertificateError(f"the private key {source} is not encrypted: the collection keeps keys only encrypted; "
                                   "encrypt it (openssl pkcs8 -topk8 -v2 aes256) or remove it to create a new one") from exc
        raise CertificateError(f"the private key {source} is encrypted: give its passphrase") from exc
    except ValueError as exc:
        raise CertificateError(f"the private key {source} cannot be read: wrong passphrase, or not a PEM/DER key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateError(f"the private key {source} is not an RSA key: the CMG needs RSA 2048 or 4096")
    return key


def encrypt_private_key(key: Any, passphrase: str) -> bytes:
    """The key as encrypted PKCS#8 PEM (cryptography's best available: PBES2, AES-256-CBC)."""
    _x509, _hashes, serialization, _rsa = crypto()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase.encode()))


def public_key_sha256(key: Any) -> str:
    """The SHA-256 of the (private or public) key's SubjectPublicKeyInfo (upper-case hex): names a key without revealing it."""
    _x509, _hashes, serialization, rsa = crypto()
    if isinstance(key, rsa.RSAPrivateKey):
        key = key.public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest().upper()


def build_csr(key: Any, service_name: str) -> bytes:
    """The PEM CSR: subject CN=<service name>, DNS SAN, serverAuth EKU, key usage, SHA-256."""
    x509, hashes, _serialization, _rsa = crypto()
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from cryptography.hazmat.primitives.serialization import Encoding
    builder = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service_name)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(service_name)]), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)


def csr_facts(csr: Any) -> dict[str, Any]:
    """What a CSR asks for: subject, DNS SANs, EKU OIDs, hash, key size."""
    x509, _hashes, _serialization, _rsa = crypto()
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    try:
        ekus = [oid.dotted_string for oid in csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        ekus = []
    algorithm = csr.signature_hash_algorithm
    return {"subject": csr.subject.rfc4514_string(), "sans": list(sans), "eku": ekus,
            "signature_hash": algorithm.name if algorithm else None,
            "key_size": getattr(csr.public_key(), "key_size", None),
            "public_key_sha256": public_key_sha256(csr.public_key())}


def load_csr(data: bytes, source: str) -> Any:
    """A CSR from PEM or DER, or a :class:`CertificateError`."""
    x509, _hashes, _serialization, _rsa = crypto()
    try:
        return (x509.load_pem_x509_csr if b"-----BEGIN" in data else x509.load_der_x509_csr)(data)
    except ValueError as exc:
        raise CertificateError(f"the CSR {source} cannot be read: not a PEM or DER certificate request") from exc


def csr_matches(csr: Any, key: Any, service_name: str) -> bool:
    """Whether ``csr`` already asks for exactly what :func:`build_csr` would, with ``key``."""
    x509, _hashes, _serialization, _rsa = crypto()
    facts = csr_facts(csr)
    wanted = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, service_name)])
    return (csr.is_signature_valid and csr.subject == wanted
            and csr.subject.rfc4514_string() == wanted.rfc4514_string()
            and facts["sans"] == [service_name] and SERVER_AUTH_OID in facts["eku"]
            and facts["signature_hash"] == "sha256" and facts["public_key_sha256"] == public_key_sha256(key))


def certreq(spec: RequestSpec, key_size: int) -> dict[str, str]:
    """The Windows ``certreq`` round trip for an enterprise CA with a web server template."""
    base = os.path.basename(spec.csr_path) if spec.csr_path else f"{spec.service_name}.csr"
    stem = base[:-4] if base.lower().endswith((".csr", ".req")) else base
    config = f' -config "{spec.ca_config}"' if spec.ca_config else ""
    submit = f'certreq -submit -attrib "CertificateTemplate:{spec.template}"{config} "{base}" "{stem}.cer"'
    inf = "\r\n".join([
        "[Version]", 'Signature="$Windows NT$"', "", "[NewRequest]", f'Subject = "CN={spec.service_name}"',
        f"KeyLength = {key_size}", "KeyAlgorithm = RSA", "HashAlgorithm = SHA256", "Exportable = TRUE",
        "MachineKeySet = TRUE", "KeySpec = 1", "KeyUsage = 0xA0",
        'ProviderName = "Microsoft RSA SChannel Cryptographic Provider"', "RequestType = PKCS10", "",
        "[EnhancedKeyUsageExtension]", f"OID = {SERVER_AUTH_OID}", "", "[Extensions]", '2.5.29.17 = "{text}"',
        f'_continue_ = "dns={spec.service_name}"', "", "[RequestAttributes]", f"CertificateTemplate = {spec.template}", ""])
    return {"submit": submit, "inf": inf, "new": f'certreq -new "{stem}.inf" "{stem}.req"',
            "accept": f'certreq -accept "{stem}.cer"', "template": spec.template}


def _existing_key(spec: RequestSpec) -> tuple[Any, str | None]:
    """The key the caller already has (file or content), with where it came from; (None, None) without one."""
    if spec.private_key_path:
        data = read_bounded(spec.private_key_path, "the private key file")
        if data is not None:
            return load_private_key(data, spec.passphrase, spec.private_key_path), spec.private_key_path
    if spec.private_key_content:
        return load_private_key(spec.private_key_content.encode(), spec.passphrase, "private_key_content"), "content"
    return None, None


def request(spec: RequestSpec, check_mode: bool = False) -> dict[str, Any]:
    """Make sure the key and CSR exist as wanted; return the module result (no secret in clear)."""
    _x509, _hashes, _serialization, rsa = crypto()
    service = normalize_fqdn(spec.service_name, allow_wildcard=True)
    if service != spec.service_name.strip():
        spec = RequestSpec(**{**spec.__dict__, "service_name": service})
    if spec.key_size not in KEY_SIZES:
        raise CertificateError(f"key_size {spec.key_size} is not allowed: the CMG takes RSA 2048 or 4096")
    if not spec.passphrase:
        raise CertificateError("passphrase is empty: the private key is only written or returned encrypted")
    key, key_source = _existing_key(spec)
    new_key = key is None
    if key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=spec.key_size)
    elif key.key_size != spec.key_size:
        raise CertificateError(f"the private key {key_source} is RSA {key.key_size}, not {spec.key_size}: set key_size "
                               f"{key.key_size}, or remove the key to create a new one")
    # a new key, or one given as content, is written to private_key_path (when there is one)
    write_key = bool(spec.private_key_path) and key_source != spec.private_key_path
    changed_items: list[str] = ["private_key"] if new_key or write_key else []
    key_pem = encrypt_private_key(key, spec.passphrase) if write_key or not spec.private_key_path else None
    before_csr = None
    csr_pem = None
    if spec.csr_path:
        existing = read_bounded(spec.csr_path, "the CSR file")
        if existing is not None:
            current = load_csr(existing, spec.csr_path)
            before_csr = csr_facts(current)
            if not new_key and csr_matches(current, key, service):
                from cryptography.hazmat.primitives.serialization import Encoding
                csr_pem = current.public_bytes(Encoding.PEM)
    if csr_pem is None:
        csr_pem = build_csr(key, service)
        if spec.csr_path:
            changed_items.append("csr")
    if spec.private_key_path and not write_key and mode_of(spec.private_key_path) != SECRET_MODE:
        changed_items.append("private_key_mode")
    if not check_mode:
        if write_key and key_pem is not None and spec.private_key_path:
            write_atomic(spec.private_key_path, key_pem)
        elif "private_key_mode" in changed_items:
            os.chmod(spec.private_key_path, SECRET_MODE)
        if "csr" in changed_items:
            write_atomic(spec.csr_path, csr_pem, 0o644)
    after = csr_facts(load_csr(csr_pem, "built"))
    result: dict[str, Any] = {
        "changed": bool(changed_items), "changes": changed_items, "csr": csr_pem.decode(), "csr_path": spec.csr_path,
        "private_key_path": spec.private_key_path, "service_name": service, "subject": after["subject"],
        "sans": after["sans"], "key_size": key.key_size, "public_key_sha256": after["public_key_sha256"],
        "certreq": certreq(spec, key.key_size),
        "diff": {"before": _diff_view(before_csr, key_source, spec), "after": _diff_view(after, "present", spec)},
    }
    if not spec.private_key_path:
        result["private_key"] = (key_pem or encrypt_private_key(key, spec.passphrase)).decode()
    return result


def _diff_view(facts: dict[str, Any] | None, key_source: str | None, spec: RequestSpec) -> str:
    if facts is None and key_source is None:
        return ""
    lines = []
    if spec.private_key_path:
        lines.append(f"private_key: {spec.private_key_path} ({'present' if key_source else 'absent'})")
    if facts:
        lines += [f"csr subject: {facts['subject']}", f"csr sans: {', '.join(facts['sans'])}",
                  f"csr key sha256: {facts['public_key_sha256']}", f"csr key size: {facts['key_size']}"]
    return "\n".join(lines) + "\n"
