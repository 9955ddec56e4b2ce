# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read certificate files: PFX (PKCS#12), PEM and DER, bounded in size and work.

:func:`load_certificate` reads a file (``path``) or text (``content``) into a :class:`Bundle`, with
one-line :class:`CertificateError` messages for a missing, special, oversized, empty, truncated or
corrupt file, a wrong password, and a legacy RC2 PFX that this OpenSSL build cannot decrypt.

Limits (each refusal names the limit): a file or content of at most :data:`MAX_INPUT_BYTES`; only
regular files (no ``/dev/zero``, FIFO or socket); at most :data:`MAX_PEM_BLOCKS` PEM blocks; PKCS#12
iteration counts (MAC and key/certificate encryption) and DER nesting within the limits of
``_cert_pkcs12``, checked before the bytes reach cryptography. The PEM reader scans the data once (linear time).

:data:`MIN_CRYPTOGRAPHY` is the one statement of the minimum cryptography version (the
``configmgr.cmg._cryptography`` doc fragment says the same; a unit test keeps them equal).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from typing import Any

from ._cert_pkcs12 import Truncated, check_pfx_limits, der_length, looks_truncated, pfx_problem
from ._errors import CertificateError, CmgError, MissingDependencyError

MIN_CRYPTOGRAPHY = "45.0.0"
FORMATS = ("auto", "pfx", "pem", "der")
MAX_INPUT_BYTES = 4 * 1024 * 1024
MAX_PEM_BLOCKS = 5000
# One pass over the data finds every BEGIN and END line (the label is bounded: no backtracking).
_PEM_MARKER = re.compile(rb"-----(BEGIN|END) ([A-Z0-9 ]{1,64})-----")
CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")
_SHROUDED_KEY_BAG = bytes.fromhex("060b2a864886f70d010c0a0102")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_cryptography_version(version: str) -> None:
    """Refuse a cryptography older than :data:`MIN_CRYPTOGRAPHY` with one line that says what to install."""
    if _version_tuple(version) < _version_tuple(MIN_CRYPTOGRAPHY):
        raise CmgError(f"the Python package cryptography {version} is too old: configmgr.cmg needs cryptography >= "
                       f"{MIN_CRYPTOGRAPHY} on the host that runs this task (pip install 'cryptography>={MIN_CRYPTOGRAPHY}')")


@dataclass(frozen=True)
class Crypto:
    """The cryptography modules the certificate code uses."""

    x509: Any
    hashes: Any
    serialization: Any
    pkcs12: Any
    rsa: Any
    ec: Any
    dsa: Any
    ed25519: Any
    ed448: Any
    verification: Any
    exceptions: Any


_LOADED: list[Crypto] = []


def crypto() -> Crypto:
    """The cryptography modules, imported on first need; a missing or too old package fails with one line."""
    if _LOADED:
        return _LOADED[0]
    try:
        import cryptography
        from cryptography import exceptions, x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError as exc:
        raise MissingDependencyError("cryptography", exc) from exc
    check_cryptography_version(cryptography.__version__)
    from cryptography.x509 import verification
    _LOADED.append(Crypto(x509, hashes, serialization, pkcs12, rsa, ec, dsa, ed25519, ed448, verification, exceptions))
    return _LOADED[0]


@dataclass
class Bundle:
    """What a certificate file holds: the leaf, the other certificates and (hidden) the private key.

    ``problems`` lists the parts that could not be read (``(part, reason)``), reported as ``malformed``.
    """

    leaf: Any
    others: list[Any]
    format: str
    source: str
    friendly_name: str | None = None
    key: Any = field(default=None, repr=False)
    problems: list[tuple[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- reading


def read_path(path: str, what: str | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_INPUT_BYTES`; anything else fails with one line."""
    where = what or f"certificate file {path!r}"
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise CertificateError(f"{where} is a directory, not a certificate file")
        if not stat.S_ISREG(info.st_mode):
            raise CertificateError(f"{where} is not a regular file (a device, FIFO or socket): give a certificate file")
        if info.st_size > MAX_INPUT_BYTES:
            raise CertificateError(f"{where} is larger than the limit of {MAX_INPUT_BYTES} bytes: give a certificate file")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
        handle = os.open(path, flags)
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):  # replaced between stat and open
                raise CertificateError(f"{where} is not a regular file (a device, FIFO or socket): give a certificate file")
            with os.fdopen(handle, "rb", closefd=False) as stream:
                data = stream.read(MAX_INPUT_BYTES + 1)
        finally:
            os.close(handle)
    except FileNotFoundError:
        raise CertificateError(f"{where} not found on the host that runs the task") from None
    except IsADirectoryError:
        raise CertificateError(f"{where} is a directory, not a certificate file") from None
    except PermissionError:
        raise CertificateError(f"{where} cannot be read: permission denied") from None
    except OSError as exc:
        raise CertificateError(f"{where} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise CertificateError(f"{where} is larger than the limit of {MAX_INPUT_BYTES} bytes: give a certificate file")
    return data


def decode_content(content: str | bytes) -> bytes:
    """The bytes of ``content``: PEM text as is, else base64 of a PFX or DER file; at most :data:`MAX_INPUT_BYTES`."""
    data = content.encode("utf-8", "replace") if isinstance(content, str) else content
    if len(data) > MAX_INPUT_BYTES * 2:
        raise CertificateError(f"the certificate content is larger than the limit of {MAX_INPUT_BYTES} bytes")
    if b"-----BEGIN" in data or not data.strip():
        decoded = data
    else:
        try:
            decoded = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise CertificateError("the certificate content is neither PEM text nor base64 of a PFX or DER file") from None
    if len(decoded) > MAX_INPUT_BYTES:
        raise CertificateError(f"the certificate content is larger than the limit of {MAX_INPUT_BYTES} bytes")
    return decoded


def sniff_format(data: bytes, source: str) -> str:
    """``pem``, ``pfx`` or ``der`` for the bytes of a certificate file; raises for anything else."""
    if b"-----BEGIN" in data:
        return "pem"
    not_cert = f"{source} is not a certificate: it is neither PEM, DER nor PFX (PKCS#12) data"
    if len(data) < 4 or data[0] != 0x30:
        raise CertificateError(not_cert)
    try:
        start, end = der_length(data, 0)
    except Truncated:
        if looks_truncated(data):
            raise CertificateError(f"{source} is truncated: its data ends early; copy or export the file again") from None
        raise CertificateError(not_cert) from None
    if end is not None and end < len(data.rstrip(b"\0\r\n ")):
        raise CertificateError(f"{source} is corrupt: it holds data after the end of its certificate structure")
    if start < len(data) and data[start] == 0x02:
        return "pfx"
    if start < len(data) and data[start] == 0x30:
        return "der"
    raise CertificateError(not_cert)


def load_certificate(path: str | None = None, content: str | bytes | None = None, password: str | None = None,
                     fmt: str = "auto", read_keys: bool = True) -> Bundle:
    """Read a certificate file (``path``) or text (``content``: PEM, or base64 of PFX/DER) into a :class:`Bundle`."""
    if (path is None) == (content is None):
        raise CertificateError("give exactly one of path or content")
    if fmt not in FORMATS:
        raise CertificateError(f"unknown certificate format {fmt!r}: use one of {', '.join(FORMATS)}")
    source = f"certificate file {path!r}" if path is not None else "the certificate content"
    data = read_path(path) if path is not None else decode_content(content or "")
    if not data.strip():
        raise CertificateError(f"{source} is empty")
    kind = sniff_format(data, source) if fmt == "auto" else fmt
    lib = crypto()
    if kind == "pfx":
        return _load_pfx(lib, data, password, source)
    if kind == "pem":
        return _load_pem(lib, data, password, source, read_keys)
    try:
        cert = lib.x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError(f"{source} is corrupt: it is not a readable DER certificate") from None
    return Bundle(cert, [], "der", source)


# ---------------------------------------------------------------------------------------------- PKCS#12


_OPENED: list[tuple[bytes, bytes, Any]] = []  # the last PFX opened: sha256 of its bytes, its password, its contents


def open_pkcs12(data: bytes, secret: bytes | None) -> Any:
    """``pkcs12.load_pkcs12(data, secret)``, remembered for the last PFX: a task that reads a PFX and then judges
    the same bytes with the same password (cmg_pfx finding its PFX in place) decrypts it once, not twice (the
    key derivation and the RSA key check are most of a PFX task's own time). Errors are not remembered."""
    digest, password = hashlib.sha256(data).digest(), b"\0" + secret if secret is not None else b""
    if _OPENED and _OPENED[0][0] == digest and hmac.compare_digest(_OPENED[0][1], password):
        return _OPENED[0][2]
    loaded = crypto().pkcs12.load_pkcs12(data, secret)
    _OPENED[:] = [(digest, password, loaded)]
    return loaded


def _load_pfx(lib: Crypto, data: bytes, password: str | None, source: str) -> Bundle:
    check_pfx_limits(data, source)
    secret = password.encode() if password else None
    try:
        loaded = open_pkcs12(data, secret)
    except (ValueError, TypeError):
        raise CertificateError(pfx_problem(data, password, source)) from None
    except lib.exceptions.UnsupportedAlgorithm as exc:
        raise CertificateError(f"{source} uses an algorithm cryptography cannot read ({_first_line(exc)}): export "
                               "the PFX again with AES256-SHA256 encryption") from None
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
    key = loaded.key
    if key is not None and not same_public_key(lib, leaf, key):
        key = next((other for other in _pfx_keys(lib, data, secret) if same_public_key(lib, leaf, other)), key)
    name = friendly.decode("utf-8", "replace") if friendly else None
    return Bundle(leaf, others, "pfx", source, name, key)


def _pfx_keys(lib: Crypto, data: bytes, secret: bytes | None) -> list[Any]:
    """Every private key of the PFX's shrouded key bags (OpenSSL returns only the first one)."""
    keys = []
    offset = data.find(_SHROUDED_KEY_BAG)
    while offset >= 0 and len(keys) < 16:
        try:
            explicit = offset + len(_SHROUDED_KEY_BAG)
            value_start, value_end = der_length(data, explicit)
            if data[explicit] == 0xA0 and value_end is not None:
                keys.append(lib.serialization.load_der_private_key(data[value_start:value_end], secret))
        except Exception:  # pylint: disable=broad-except  # a bag that does not open is not the matching key
            pass
        offset = data.find(_SHROUDED_KEY_BAG, offset + 1)
    return keys


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


# ---------------------------------------------------------------------------------------------- PEM


@dataclass(frozen=True)
class PemBlock:
    """One PEM block: its label and its body (base64 lines, with any RFC 1421 headers)."""

    label: bytes
    body: bytes

    def text(self, label: bytes | None = None) -> bytes:
        """The block as PEM text cryptography reads (``label`` replaces its own)."""
        name = label or self.label
        return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (name, self.body, name)


def pem_blocks(data: bytes, limit: int = MAX_PEM_BLOCKS) -> tuple[list[PemBlock], int]:
    """The complete PEM blocks of ``data`` and the number of BEGIN lines without their END line, in one pass.

    Whitespace after a BEGIN line's dashes is allowed (as openssl reads it). More than ``limit`` blocks
    raise :class:`CertificateError` naming the limit.
    """
    blocks: list[PemBlock] = []
    unmatched = 0
    open_label: bytes | None = None
    body_start = 0
    for marker in _PEM_MARKER.finditer(data):
        kind, label = marker.group(1), marker.group(2)
        if kind == b"BEGIN":
            unmatched += open_label is not None
            open_label, body_start = label, marker.end()
        elif open_label is not None and label == open_label:
            body = data[body_start:marker.start()]
            first, newline, rest = body.partition(b"\n")
            if newline and not first.strip():
                body = rest
            blocks.append(PemBlock(label, body.strip()))
            open_label = None
            if len(blocks) > limit:
                raise CertificateError(f"the PEM data holds more than {limit} blocks, the limit: give one certificate "
                                       "bundle of a reasonable size")
    return blocks, unmatched + (open_label is not None)


def _load_pem(lib: Crypto, data: bytes, password: str | None, source: str, read_keys: bool) -> Bundle:
    blocks, unmatched = pem_blocks(data)
    if unmatched:
        raise CertificateError(f"{source} is truncated: a PEM block has no END line; copy the whole file again")
    certs = []
    keys = []
    problems: list[tuple[str, str]] = []
    for block in blocks:
        if block.label in CERT_LABELS:
            try:
                certs.append(lib.x509.load_pem_x509_certificate(block.text(b"CERTIFICATE")))
            except ValueError:
                raise CertificateError(f"{source} is corrupt: a PEM certificate block cannot be read") from None
        elif block.label.endswith(b"PRIVATE KEY") and read_keys:
            try:
                keys.append(_load_pem_key(lib, block.text(), password, source))
            except lib.exceptions.UnsupportedAlgorithm as exc:
                problems.append(("private key", f"its algorithm or curve is not supported ({_first_line(exc)})"))
    if not certs:
        raise CertificateError(f"{source} holds no certificate (no '-----BEGIN CERTIFICATE-----' block)")
    key = keys[0] if keys else None
    leaf = None
    for candidate_key in keys:
        leaf = next((cert for cert in certs if same_public_key(lib, cert, candidate_key)), None)
        if leaf is not None:
            key = candidate_key
            break
    leaf = leaf or pick_leaf(certs)
    return Bundle(leaf, [cert for cert in certs if cert is not leaf], "pem", source, None, key, problems)


def _load_pem_key(lib: Crypto, text: bytes, password: str | None, source: str) -> Any:
    secret = password.encode() if password else None
    try:
        try:
            return lib.serialization.load_pem_private_key(text, secret)
        except TypeError:
            if secret is None:
                raise CertificateError(f"wrong password for {source} (no password was given): its private key is "
                                       "encrypted; give the password") from None
            return lib.serialization.load_pem_private_key(text, None)
    except ValueError as exc:
        if "decrypt" in str(exc).lower() or "password" in str(exc).lower():
            raise CertificateError(f"wrong password for {source}: its private key cannot be decrypted with it") from None
        raise CertificateError(f"{source} is corrupt: its private key block cannot be read") from None


def read_pem_certificates(data: bytes) -> list[Any]:
    """Every readable certificate of a PEM bundle (unreadable blocks of a trust store are skipped)."""
    x509 = crypto().x509
    certs = []
    with warnings.catch_warnings():  # old roots with negative serial numbers warn: still usable anchors
        warnings.simplefilter("ignore")
        for block in pem_blocks(data)[0]:
            if block.label in CERT_LABELS:
                try:
                    certs.append(x509.load_pem_x509_certificate(block.text(b"CERTIFICATE")))
                except ValueError:
                    continue
    return certs


# ---------------------------------------------------------------------------------------------- keys and leaf


def same_public_key(lib: Crypto, cert: Any, key: Any) -> bool:
    """True when ``key`` is the private key of ``cert`` (False when either cannot be read)."""
    spki = lib.serialization.Encoding.DER, lib.serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        return bool(cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki))
    except Exception:  # pylint: disable=broad-except  # unsupported algorithm or curve: reported as malformed
        return False


def _is_ca(cert: Any) -> bool:
    x509 = crypto().x509
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except Exception:  # pylint: disable=broad-except  # absent or unreadable extensions
        return False


def pick_leaf(certs: list[Any]) -> Any:
    """The end-entity certificate among ``certs``: not a CA and not the issuer of another one."""
    if not certs:
        return None
    try:
        issuers = {cert.issuer for cert in certs if cert.issuer != cert.subject}
    except ValueError:  # a name cryptography cannot decode: keep the file's order
        return certs[0]
    for candidates in ([c for c in certs if not _is_ca(c) and c.subject not in issuers],
                       [c for c in certs if c.subject not in issuers]):
        if candidates:
            return candidates[0]
    return certs[0]
