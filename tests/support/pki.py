"""The certificate corpus: a test PKI built with cryptography's CertificateBuilder and the openssl CLI.

:func:`build_corpus` writes every case of :data:`CASES` into a directory, with two test roots:
an *enterprise* root (handed to the module as ``ca_bundle``) and a *public* root (written to
``public_roots.pem`` and used as ``trust`` to stand in for the public trust store). Keys are made
once per process (:func:`rsa_key` is cached): RSA 4096 key generation is slow.

Each :class:`Case` names its file, the module options it needs and the exact finding codes the
validation must report, as literal strings (the tests do not import the codes they check).
:func:`openssl_facts` reads a certificate with ``openssl x509``: an oracle independent of our code.
"""

from __future__ import annotations

import datetime
import functools
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD = "Corpus-Pa55word!"
WRONG_PASSWORD = "not-the-password"
CRL_URL = "http://crl.corpus.test/ca.crl"
AIA_URL = "http://aia.corpus.test/ca.crt"
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
DAY = datetime.timedelta(days=1)
ENTERPRISE = frozenset({"chain_enterprise"})


@functools.lru_cache(maxsize=None)
def rsa_key(bits: int, index: int = 0) -> rsa.RSAPrivateKey:
    """An RSA key of ``bits``, made once per process for each ``(bits, index)``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.lru_cache(maxsize=None)
def ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key, made once per process."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: Any


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def make_cert(cn: str | None, key: Any, issuer: Issued | None = None, *, sans: tuple[str, ...] | None = None,
              eku: tuple[x509.ObjectIdentifier, ...] | None = (SERVER_AUTH,), ca: bool = False,
              algorithm: hashes.HashAlgorithm | None = None, not_before: datetime.datetime | None = None,
              not_after: datetime.datetime | None = None, crl: tuple[str, ...] = (CRL_URL,),
              aia: tuple[str, ...] = (AIA_URL,), ca_eku: tuple[x509.ObjectIdentifier, ...] | None = None) -> Issued:
    """Issue a certificate for ``cn`` (self-signed without ``issuer``).

    ``sans`` defaults to ``(cn,)`` for an end entity; ``eku=None`` leaves the extension out. A CA certificate
    has no EKU extension unless ``ca_eku`` gives one.
    """
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Corpus")]
                        + ([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
    signer = issuer.key if issuer else key
    start = not_before or _now() - DAY
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start)
               .not_valid_after(not_after or start + 365 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
        if ca_eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(ca_eku)), critical=False)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=isinstance(key, rsa.RSAPrivateKey),
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        names = sans if sans is not None else ((cn,) if cn else ())
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if crl:
            builder = builder.add_extension(x509.CRLDistributionPoints([
                x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None) for url in crl]),
                critical=False)
        if aia:
            builder = builder.add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                       x509.UniformResourceIdentifier(url)) for url in aia]), critical=False)
    return Issued(builder.sign(signer, algorithm if algorithm is not None else hashes.SHA256()), key)


def pem(*items: Any) -> bytes:
    """PEM text of certificates and (unencrypted) private keys, in the order given."""
    out = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            out += item.public_bytes(serialization.Encoding.PEM)
        else:
            out += item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    return out


def pfx(leaf: Issued | None, chain: tuple[x509.Certificate, ...] = (), *, key: bool = True,
        password: str = PASSWORD, friendly_name: bytes | None = b"CMG server authentication") -> bytes:
    """A PFX made by cryptography (AES-256); ``key=False`` leaves the private key out."""
    encryption = serialization.BestAvailableEncryption(password.encode())
    if leaf is not None and not key:
        extra = [pkcs12.PKCS12Certificate(leaf.cert, friendly_name)] + list(chain)
        return pkcs12.serialize_key_and_certificates(friendly_name, None, None, extra, encryption)
    return pkcs12.serialize_key_and_certificates(friendly_name, leaf.key if leaf else None,
                                                 leaf.cert if leaf else None, list(chain) or None, encryption)


def openssl_legacy_pfx(directory: Path, leaf: Issued, chain: tuple[x509.Certificate, ...],
                       password: str = PASSWORD) -> bytes:
    """A Windows-style legacy PFX (RC2-40 certificates, 3DES key, SHA-1 MAC) made by the openssl CLI."""
    key_file = directory / "_legacy_key.pem"
    cert_file = directory / "_legacy_cert.pem"
    chain_file = directory / "_legacy_chain.pem"
    out = directory / "_legacy.pfx"
    key_file.write_bytes(pem(leaf.key))
    cert_file.write_bytes(pem(leaf.cert))
    chain_file.write_bytes(pem(*chain))
    try:
        subprocess.run(
            ["openssl", "pkcs12", "-export", "-legacy", "-certpbe", "PBE-SHA1-RC2-40", "-keypbe", "PBE-SHA1-3DES",
             "-macalg", "sha1", "-inkey", str(key_file), "-in", str(cert_file), "-certfile", str(chain_file),
             "-name", "CMG legacy", "-passout", "env:CORPUS_PFX_PASSWORD", "-out", str(out)],
            check=True, capture_output=True, env={"CORPUS_PFX_PASSWORD": password, "PATH": "/usr/bin:/bin"})
        return out.read_bytes()
    finally:
        key_file.unlink()
        for path in (cert_file, chain_file, out):
            path.unlink(missing_ok=True)


def openssl_sha1(directory: Path, leaf: Issued, issuer: Issued) -> Issued:
    """A self-signed ``leaf`` re-signed by ``issuer`` with SHA-1 by the openssl CLI.

    cryptography refuses to sign with SHA-1, and ``openssl x509 -CA`` only re-signs a self-signed input.
    """
    files = {"in": directory / "_sha1_in.pem", "ca": directory / "_sha1_ca.pem", "key": directory / "_sha1_key.pem",
             "out": directory / "_sha1_out.pem"}
    files["in"].write_bytes(pem(leaf.cert))
    files["ca"].write_bytes(pem(issuer.cert))
    files["key"].write_bytes(pem(issuer.key))
    try:
        subprocess.run(["openssl", "x509", "-in", str(files["in"]), "-CA", str(files["ca"]), "-CAkey", str(files["key"]),
                        "-sha1", "-preserve_dates", "-set_serial", "4242", "-out", str(files["out"])],
                       check=True, capture_output=True)
        return Issued(x509.load_pem_x509_certificate(files["out"].read_bytes()), leaf.key)
    finally:
        for path in files.values():
            path.unlink(missing_ok=True)


def openssl_facts(path: Path) -> dict[str, Any]:
    """Thumbprint, dates and key size of a PEM certificate as ``openssl x509`` prints them."""
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-fingerprint", "-sha1", "-startdate",
                          "-enddate", "-text"], check=True, capture_output=True, text=True).stdout
    fingerprint = re.search(r"SHA1 Fingerprint=([0-9A-F:]+)", out, re.I)
    start = re.search(r"notBefore=(.+)", out)
    end = re.search(r"notAfter=(.+)", out)
    bits = re.search(r"Public-Key: \((\d+) bit\)", out)
    assert fingerprint and start and end and bits, out

    def iso(text: str) -> str:
        moment = datetime.datetime.strptime(text.strip(), "%b %d %H:%M:%S %Y GMT")
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"thumbprint": fingerprint.group(1).replace(":", ""), "not_before": iso(start.group(1)),
            "not_after": iso(end.group(1)), "key_size": int(bits.group(1))}


@dataclass(frozen=True)
class Case:
    """One corpus file, the options it is validated with and the exact finding codes expected."""

    name: str
    file: str
    codes: frozenset[str]
    options: dict[str, Any] = field(default_factory=dict)
    password: str | None = PASSWORD


# Cases that load: expected finding codes (trust is the corpus' public root, ca_bundle the enterprise one).
CASES: tuple[Case, ...] = (
    Case("good_rsa2048", "good_rsa2048.pfx", ENTERPRISE),
    Case("good_rsa4096", "good_rsa4096.pfx", ENTERPRISE),
    Case("legacy_rc2", "legacy_rc2.pfx", ENTERPRISE),
    Case("pfx_no_key", "pfx_no_key.pfx", ENTERPRISE | {"key_missing"}),
    Case("no_chain", "no_chain.pfx", ENTERPRISE | {"chain_incomplete"}),
    # Without its intermediates, and the issuer nowhere else: trust is unknown, a warning (chain.trust "unknown").
    Case("no_chain_root_only_bundle", "no_chain.pfx", frozenset({"chain_incomplete"}), {"ca_bundle": "root_only.pem"}),
    Case("no_chain_no_bundle", "no_chain.pfx", frozenset({"chain_incomplete"}), {"ca_bundle": None}),
    # An issuing CA limited to the serverAuth EKU (common for public TLS CAs) is fine for a server certificate.
    Case("server_auth_ca", "server_auth_ca.pfx", ENTERPRISE),
    Case("rsa1024", "rsa1024.pfx", ENTERPRISE | {"key_too_small"}),
    Case("rsa3072", "rsa3072.pfx", ENTERPRISE | {"key_size_unusual"}),
    Case("ecdsa", "ecdsa.pfx", ENTERPRISE | {"key_not_rsa"}),
    Case("expired", "expired.pfx", ENTERPRISE | {"expired"}),
    Case("not_yet_valid", "not_yet_valid.pfx", ENTERPRISE | {"not_yet_valid"}),
    Case("expiring_soon", "expiring_soon.pfx", ENTERPRISE | {"expiring_soon"}),
    Case("client_auth_only", "client_auth_only.pfx", ENTERPRISE | {"eku_no_server_auth"}),
    Case("no_eku", "no_eku.pfx", ENTERPRISE | {"eku_missing"}),
    Case("sha1", "sha1.pfx", ENTERPRISE | {"weak_signature_hash"}),
    Case("san_not_covering", "san_not_covering.pfx", ENTERPRISE | {"name_not_covered"}),
    Case("wildcard", "wildcard.pfx", ENTERPRISE, {"prefix": "GraniteFalls"}),
    Case("wildcard_service_name", "wildcard.pfx", ENTERPRISE, {"service_name": "GraniteFalls.contoso.com"}),
    Case("wildcard_no_prefix", "wildcard.pfx", ENTERPRISE | {"service_name_required"}),
    Case("wildcard_two_labels", "wildcard.pfx", ENTERPRISE | {"name_not_covered"},
         {"service_name": "cmgsub.GraniteFalls.contoso.com"}),
    Case("self_signed", "self_signed.pfx", frozenset({"self_signed", "chain_untrusted"})),
    Case("dash_prefix", "dash_prefix.pfx", ENTERPRISE | {"name_storage_account"}),
    Case("dash_prefix_content", "dash_prefix.pfx", ENTERPRISE | {"name_storage_account"}, {"content_enabled": True}),
    Case("long_prefix", "long_prefix.pfx", ENTERPRISE | {"name_key_vault", "name_storage_account"}),
    Case("azure_public", "azure_public.pfx", frozenset({"azure_domain_public_ca"}), {"region": "westus"}),
    Case("public_good", "public_good.pfx", frozenset()),
    Case("renewal_case", "renewal.pfx", ENTERPRISE | {"renewal_cn_mismatch"}, {"previous_certificate": "previous.cer"}),
    Case("renewal_same", "good_rsa2048.pfx", ENTERPRISE, {"previous_certificate": "previous_same.cer"}),
    Case("pem_bundle", "bundle.pem", ENTERPRISE, password=None),
    Case("pem_encrypted_key", "encrypted_key.pem", ENTERPRISE),
    Case("der", "leaf.der", ENTERPRISE | {"key_missing", "chain_incomplete"}, password=None),
    Case("no_crl_aia", "no_crl_aia.pfx", ENTERPRISE | {"crl_not_published", "aia_not_published"}),
    Case("ldap_only", "ldap_only.pfx", ENTERPRISE | {"crl_not_published", "aia_not_published"}),
    Case("untrusted", "untrusted.pfx", frozenset({"chain_untrusted"})),
    Case("no_cn", "no_cn.pfx", ENTERPRISE | {"cn_missing"}, {"service_name": "cmg.contoso.com"}),
    Case("cn_not_service_name", "cn_web_server.pfx", ENTERPRISE | {"cn_not_service_name"},
         {"service_name": "GraniteFalls.contoso.com"}),
    Case("cn_service_name_other_case", "renewal.pfx", ENTERPRISE, {"service_name": "GraniteFalls.Contoso.com"}),
    Case("renewal_previous_pfx", "renewal.pfx", ENTERPRISE | {"renewal_cn_mismatch"},
         {"previous_certificate": "previous.pfx"}),
)

# Files that must not load: the substring the one-line message must hold.
UNREADABLE: dict[str, tuple[str, str | None, str]] = {
    # name: (file, password, expected message fragment)
    "wrong_password": ("good_rsa2048.pfx", WRONG_PASSWORD, "wrong password"),
    "wrong_password_legacy": ("legacy_rc2.pfx", WRONG_PASSWORD, "wrong password"),
    "no_password": ("good_rsa2048.pfx", None, "wrong password"),
    "pem_wrong_password": ("encrypted_key.pem", WRONG_PASSWORD, "wrong password"),
    "truncated": ("truncated.pfx", PASSWORD, "truncated"),
    "truncated_pem": ("truncated.pem", None, "truncated"),
    "garbage": ("garbage.bin", PASSWORD, "not a certificate"),
    "empty": ("empty.pfx", PASSWORD, "is empty"),
    "missing": ("does-not-exist.pfx", PASSWORD, "not found"),
}


@dataclass
class Corpus:
    """The written corpus: its directory, the public trust file, the enterprise bundle, the PKI."""

    directory: Path
    public_roots: Path
    ca_bundle: Path
    enterprise_root: Issued
    enterprise_intermediate: Issued

    def path(self, file: str) -> Path:
        """The full path of a corpus file."""
        return self.directory / file

    def options(self, case: Case) -> dict[str, Any]:
        """The module options of ``case`` (paths resolved, trust and ca_bundle set)."""
        options: dict[str, Any] = {"path": str(self.path(case.file)), "trust": str(self.public_roots),
                                   "ca_bundle": str(self.ca_bundle)}
        if case.password is not None:
            options["password"] = case.password
        for key, value in case.options.items():
            options[key] = str(self.path(value)) if key in ("previous_certificate", "ca_bundle") and value else value
        return options


def _roots(directory: Path, now: datetime.datetime) -> tuple[Issued, Issued, Issued]:
    """The enterprise root and issuing CA (written to ca_bundle.pem) and the public root (public_roots.pem)."""
    e_root = make_cert("Corpus Enterprise Root", rsa_key(2048, 1), ca=True, not_after=now + 3650 * DAY)
    e_int = make_cert("Corpus Enterprise Issuing CA", rsa_key(2048, 2), e_root, ca=True, not_after=now + 1800 * DAY)
    p_root = make_cert("Corpus Public Root", rsa_key(2048, 3), ca=True, not_after=now + 3650 * DAY)
    (directory / "public_roots.pem").write_bytes(pem(p_root.cert))
    (directory / "ca_bundle.pem").write_bytes(pem(e_root.cert, e_int.cert))
    return e_root, e_int, p_root


def build_corpus(directory: Path) -> Corpus:
    """Write every corpus file into ``directory`` and return the :class:`Corpus`."""
    directory.mkdir(parents=True, exist_ok=True)
    now = _now()
    e_root, e_int, p_root = _roots(directory, now)
    p_int = make_cert("Corpus Public Issuing CA", rsa_key(2048, 4), p_root, ca=True, not_after=now + 1800 * DAY)
    u_root = make_cert("Corpus Unknown Root", rsa_key(2048, 5), ca=True, not_after=now + 3650 * DAY)
    chain = (e_int.cert, e_root.cert)
    key = rsa_key(2048)
    server_auth_int = make_cert("Corpus Enterprise TLS CA", rsa_key(2048, 6), e_root, ca=True,
                                not_after=now + 1800 * DAY, ca_eku=(SERVER_AUTH,))

    def leaf(cn: str | None = "cmg.contoso.com", leaf_key: Any = key, issuer: Issued = e_int, **kwargs: Any) -> Issued:
        return make_cert(cn, leaf_key, issuer, **kwargs)

    good = leaf()
    files: dict[str, bytes] = {
        "good_rsa2048.pfx": pfx(good, chain),
        "good_rsa4096.pfx": pfx(leaf(leaf_key=rsa_key(4096)), chain),
        "legacy_rc2.pfx": openssl_legacy_pfx(directory, good, chain),
        "pfx_no_key.pfx": pfx(good, chain, key=False),
        "no_chain.pfx": pfx(good),
        "rsa1024.pfx": pfx(leaf(leaf_key=rsa_key(1024)), chain),
        "rsa3072.pfx": pfx(leaf(leaf_key=rsa_key(3072)), chain),
        "ecdsa.pfx": pfx(leaf(leaf_key=ec_key()), chain),
        "expired.pfx": pfx(leaf(not_before=now - 400 * DAY, not_after=now - 2 * DAY), chain),
        "not_yet_valid.pfx": pfx(leaf(not_before=now + 2 * DAY, not_after=now + 400 * DAY), chain),
        "expiring_soon.pfx": pfx(leaf(not_after=now + 10 * DAY), chain),
        "client_auth_only.pfx": pfx(leaf(eku=(CLIENT_AUTH,)), chain),
        "no_eku.pfx": pfx(leaf(eku=None), chain),
        "sha1.pfx": pfx(openssl_sha1(directory, make_cert("cmg.contoso.com", key), e_int), chain),
        "san_not_covering.pfx": pfx(leaf(sans=("www.contoso.com",)), chain),
        "wildcard.pfx": pfx(leaf("*.contoso.com"), chain),
        "self_signed.pfx": pfx(make_cert("cmg.contoso.com", key)),
        "dash_prefix.pfx": pfx(leaf("granite-falls.contoso.com"), chain),
        "long_prefix.pfx": pfx(leaf("granitefallscloudmanagementgw.contoso.com"), chain),
        "azure_public.pfx": pfx(leaf("grfalls.westus.cloudapp.azure.com", issuer=p_int), (p_int.cert,)),
        "public_good.pfx": pfx(leaf(issuer=p_int), (p_int.cert,)),
        "renewal.pfx": pfx(leaf("granitefalls.contoso.com"), chain),
        "previous.cer": pem(leaf("GraniteFalls.contoso.com").cert),
        "previous_same.cer": leaf().cert.public_bytes(serialization.Encoding.DER),
        "bundle.pem": pem(e_int.cert, key, good.cert, e_root.cert),
        "encrypted_key.pem": pem(good.cert, e_int.cert) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSWORD.encode())),
        "leaf.der": good.cert.public_bytes(serialization.Encoding.DER),
        "leaf.pem": pem(good.cert),
        "leaf4096.pem": pem(leaf(leaf_key=rsa_key(4096)).cert),
        "no_crl_aia.pfx": pfx(leaf(crl=(), aia=()), chain),
        "ldap_only.pfx": pfx(leaf(crl=("ldap:///CN=Corpus,CN=CDP?certificateRevocationList",),
                                  aia=("ldap:///CN=Corpus,CN=AIA?cACertificate",)), chain),
        "untrusted.pfx": pfx(leaf(issuer=u_root), (u_root.cert,)),
        "no_cn.pfx": pfx(leaf(None, sans=("cmg.contoso.com",)), chain),
        "root_only.pem": pem(e_root.cert),
        "server_auth_ca.pfx": pfx(leaf(issuer=server_auth_int), (server_auth_int.cert, e_root.cert)),
        "cn_web_server.pfx": pfx(leaf("Contoso Web Server", sans=("GraniteFalls.contoso.com",)), chain),
        "previous.pfx": pfx(leaf("GraniteFalls.contoso.com")),
        "previous_other_password.pfx": pfx(leaf("GraniteFalls.contoso.com"), password=WRONG_PASSWORD),
        "garbage.bin": bytes(range(7, 250)) * 8,
        "empty.pfx": b"",
    }
    files["truncated.pfx"] = files["good_rsa2048.pfx"][: len(files["good_rsa2048.pfx"]) // 2]
    files["truncated.pem"] = files["bundle.pem"][: len(files["bundle.pem"]) - 200]
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return Corpus(directory, directory / "public_roots.pem", directory / "ca_bundle.pem", e_root, e_int)


def build_sample(directory: Path, service_name: str = "GraniteFalls.contoso.com") -> dict[str, str]:
    """A good sample PFX for ``service_name`` from the enterprise test PKI (for ``make demo``).

    Returns the cmg_cert_validate options ``path``, ``password``, ``trust`` and ``ca_bundle``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    root, issuing, _public = _roots(directory, _now())
    sample = directory / f"{service_name.split('.')[0]}.pfx"
    sample.write_bytes(pfx(make_cert(service_name, rsa_key(2048), issuing), (issuing.cert, root.cert)))
    return {"path": str(sample), "password": PASSWORD, "trust": str(directory / "public_roots.pem"),
            "ca_bundle": str(directory / "ca_bundle.pem")}


# ---------------------------------------------------------------------------------------------- hostile files
# Built by hand from DER pieces, independent of the code under test.


def der(tag: int, value: bytes) -> bytes:
    """One DER element (definite length)."""
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + value


def der_items(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, value) of each DER element in ``data`` (definite lengths only)."""
    items = []
    offset = 0
    while offset < len(data):
        tag, first = data[offset], data[offset + 1]
        start = offset + 2
        if first & 0x80:
            count = first & 0x7F
            size = int.from_bytes(data[start:start + count], "big")
            start += count
        else:
            size = first
        items.append((tag, data[start:start + size]))
        offset = start + size
    return items


def der_integer(value: int) -> bytes:
    """A DER INTEGER."""
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER."""
    parts = [int(part) for part in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.insert(0, 0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(chunk)
    return der(0x06, body)


def pfx_with_mac_iterations(data: bytes, iterations: int) -> bytes:
    """``data`` (a PFX) with the iteration count of its MacData replaced (the MAC no longer matches)."""
    (_tag, body), = der_items(data)
    version, auth_safe, mac_data = der_items(body)
    digest_info, salt, _count = der_items(mac_data[1])
    mac = der(0x30, der(digest_info[0], digest_info[1]) + der(salt[0], salt[1]) + der_integer(iterations))
    return der(0x30, der(*version) + der(*auth_safe) + mac)


def pfx_two_keys(leaf: Issued, wrong_key: Any, password: str = PASSWORD) -> bytes:
    """A PFX (no MAC) holding ``wrong_key`` first, then the leaf's own key, then the leaf certificate."""
    def key_bag(key: Any) -> bytes:
        encrypted = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(password.encode()))
        return der(0x30, oid("1.2.840.113549.1.12.10.1.2") + der(0xA0, encrypted))

    cert_bag = der(0x30, oid("1.2.840.113549.1.12.10.1.3") + der(0xA0, der(0x30, oid("1.2.840.113549.1.9.22.1")
                   + der(0xA0, der(0x04, leaf.cert.public_bytes(serialization.Encoding.DER))))))

    def data_content(safe_contents: bytes) -> bytes:
        return der(0x30, oid("1.2.840.113549.1.7.1") + der(0xA0, der(0x04, safe_contents)))

    auth_safe = der(0x30, data_content(der(0x30, key_bag(wrong_key) + key_bag(leaf.key)))
                    + data_content(der(0x30, cert_bag)))
    return der(0x30, der_integer(3) + data_content(auth_safe))


def openssl_resign(directory: Path, leaf: Issued, issuer: Issued, digest: str) -> Issued:
    """A self-signed ``leaf`` re-signed by ``issuer`` with ``digest`` (md5, sha1) by the openssl CLI."""
    files = {"in": directory / "_re_in.pem", "ca": directory / "_re_ca.pem", "key": directory / "_re_key.pem",
             "out": directory / "_re_out.pem"}
    files["in"].write_bytes(pem(leaf.cert))
    files["ca"].write_bytes(pem(issuer.cert))
    files["key"].write_bytes(pem(issuer.key))
    try:
        subprocess.run(["openssl", "x509", "-in", str(files["in"]), "-CA", str(files["ca"]), "-CAkey", str(files["key"]),
                        f"-{digest}", "-preserve_dates", "-set_serial", "4243", "-out", str(files["out"])],
                       check=True, capture_output=True)
        return Issued(x509.load_pem_x509_certificate(files["out"].read_bytes()), leaf.key)
    finally:
        for path in files.values():
            path.unlink(missing_ok=True)


def patched(cert: x509.Certificate, old: bytes, new: bytes) -> bytes:
    """The DER of ``cert`` with the bytes ``old`` replaced by ``new`` (same length; the signature no longer matches)."""
    data = cert.public_bytes(serialization.Encoding.DER)
    assert len(old) == len(new) and old in data, (old, new)
    return data.replace(old, new)
