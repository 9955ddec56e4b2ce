# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DER and PKCS#12 structure, read without cryptography: lengths, limits, and the password diagnosis.

Everything here is bounded before it runs: DER lengths of at most 4 length bytes, nesting of at most
:data:`MAX_DER_DEPTH` levels and :data:`MAX_DER_ELEMENTS` elements, and PKCS#12 iteration counts (MAC,
PBE and PBKDF2 parameters) of at most :data:`MAX_PFX_ITERATIONS`, checked by :func:`check_pfx_limits`
before a PFX reaches cryptography (whose loader would run any count it is given).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Iterator

from ._errors import CertificateError

MAX_PFX_ITERATIONS = 1_000_000
MAX_DER_DEPTH = 32
MAX_DER_ELEMENTS = 50_000
# PKCS#12 PBE algorithms of the PKCS#12 v1 family (1.2.840.113549.1.12.1.x): RC4, 3DES, RC2 (RFC 7292 C).
_LEGACY_PBE_PREFIX = bytes.fromhex("060a2a864886f70d010c01")
_MAC_HASHES = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
               "2.16.840.1.101.3.4.2.3": "sha512", "2.16.840.1.101.3.4.2.4": "sha224"}


class Truncated(Exception):
    """A DER length runs past the end of the data."""


class TooComplex(Exception):
    """DER nesting or element count above the limits."""


def der_length(data: bytes, offset: int) -> tuple[int, int | None]:
    """Start and end of the value of the DER element at ``offset`` (end None: BER indefinite length)."""
    if offset + 2 > len(data):
        raise Truncated
    first = data[offset + 1]
    start = offset + 2
    if first == 0x80:
        return start, None
    if first & 0x80:
        count = first & 0x7F
        if count > 4 or start + count > len(data):
            raise Truncated
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    else:
        length = first
    if start + length > len(data):
        raise Truncated
    return start, start + length


def der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, value start, value end) of each DER element between ``start`` and ``end``."""
    children = []
    offset = start
    while offset < end:
        value_start, value_end = der_length(data, offset)
        if value_end is None or value_end > end:
            raise Truncated
        children.append((data[offset], value_start, value_end))
        if len(children) > MAX_DER_ELEMENTS:
            raise TooComplex
        offset = value_end
    return children


def looks_truncated(data: bytes) -> bool:
    """A DER start whose outer length runs past the end: a cut file (PFX version 3 or a certificate) or noise."""
    try:
        first = data[1]
        start = 2 + (first & 0x7F if first & 0x80 else 0)
        if first & 0x80 and not 1 <= first & 0x7F <= 4:
            return False
        tag, length = data[start], data[start + 1]
        if tag == 0x02:  # PFX: INTEGER version 3
            return length == 1 and data[start + 2] == 3
        return tag == 0x30 and length in (0x81, 0x82, 0x83)  # a certificate's tbsCertificate SEQUENCE
    except IndexError:
        return False


def _integer(data: bytes, start: int, end: int) -> int:
    if end - start > 8:
        return MAX_PFX_ITERATIONS + 1 if data[start] < 0x80 else -1
    return int.from_bytes(data[start:end], "big", signed=True)


def pfx_iteration_counts(data: bytes) -> Iterator[int]:
    """Every iteration count of a PKCS#12 file: MacData and the PBE/PBKDF2 parameters, in nested octet strings too.

    A SEQUENCE holding an OCTET STRING (salt) directly followed by an INTEGER is the shape of all three
    (RFC 7292 MacData and pkcs-12PbeParams, RFC 8018 PBKDF2-params). Raises :class:`Truncated` or
    ``TooComplex`` on damage or nesting beyond :data:`MAX_DER_DEPTH`.
    """
    budget = [MAX_DER_ELEMENTS]
    stack = [(0, len(data), 0)]
    while stack:
        start, end, depth = stack.pop()
        if depth > MAX_DER_DEPTH:
            raise TooComplex
        children = der_children(data, start, end)
        budget[0] -= len(children)
        if budget[0] < 0:
            raise TooComplex
        for index, (tag, value_start, value_end) in enumerate(children):
            if tag == 0x02 and index and children[index - 1][0] == 0x04:
                yield _integer(data, value_start, value_end)
            if tag & 0x20:  # constructed: SEQUENCE, SET, [n] EXPLICIT
                stack.append((value_start, value_end, depth + 1))
            elif tag == 0x04 and value_end - value_start > 2 and data[value_start] == 0x30:
                try:
                    if der_length(data, value_start)[1] == value_end:
                        stack.append((value_start, value_end, depth + 1))
                except Truncated:
                    continue


def check_pfx_limits(data: bytes, source: str) -> None:
    """Refuse a PFX whose iteration counts or nesting exceed the limits, before any key derivation runs."""
    try:
        counts = list(pfx_iteration_counts(data))
    except Truncated:
        raise CertificateError(f"{source} is truncated: its data ends early; copy or export the file again") from None
    except TooComplex:
        raise CertificateError(f"{source} is nested deeper than {MAX_DER_DEPTH} levels or holds more than "
                               f"{MAX_DER_ELEMENTS} elements: it is not a PFX this module reads; export it again") from None
    for count in counts:
        if not 1 <= count <= MAX_PFX_ITERATIONS:
            raise CertificateError(f"{source} asks for {count if count > 0 else 'a non-positive number of'} key "
                                   f"derivation iterations, above the limit of {MAX_PFX_ITERATIONS}: export the PFX "
                                   "again with the default settings")


def pfx_problem(data: bytes, password: str | None, source: str) -> str:
    """Why a PFX did not open: wrong password (its MAC says so), legacy encryption, or damage."""
    mac_ok = pfx_mac_matches(data, password)
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


def pfx_mac_matches(data: bytes, password: str | None) -> bool | None:
    """Check the PFX integrity MAC (RFC 7292 appendix B) with ``password``; None when it cannot be checked."""
    try:
        start, end = der_length(data, 0)
        items = der_children(data, start, end or len(data))
        if len(items) < 3:
            return None
        _tag, content_start, content_end = items[1]
        content = der_children(data, content_start, content_end)  # contentType, [0] content
        _tag, explicit_start, explicit_end = content[1]
        octets = der_children(data, explicit_start, explicit_end)[0]
        if octets[0] != 0x04:
            return None
        auth_safe = data[octets[1]:octets[2]]
        mac_data = der_children(data, items[2][1], items[2][2])
        digest_info = der_children(data, mac_data[0][1], mac_data[0][2])
        algorithm = der_children(data, digest_info[0][1], digest_info[0][2])
        hash_name = _MAC_HASHES.get(_oid(data[algorithm[0][1]:algorithm[0][2]]))
        expected = data[digest_info[1][1]:digest_info[1][2]]
        salt = data[mac_data[1][1]:mac_data[1][2]]
        iterations = _integer(data, mac_data[2][1], mac_data[2][2]) if len(mac_data) > 2 else 1
    except (Truncated, TooComplex, IndexError, ValueError):
        return None
    if hash_name is None or not 1 <= iterations <= MAX_PFX_ITERATIONS:
        return None
    secrets = [password.encode("utf-16-be") + b"\0\0"] if password else [b"", b"\0\0"]
    for secret in secrets:
        key = pkcs12_kdf(hash_name, secret, salt, iterations, hashlib.new(hash_name).digest_size)
        if hmac.compare_digest(hmac.new(key, auth_safe, hash_name).digest(), expected):
            return True
    return False


def pkcs12_kdf(hash_name: str, secret: bytes, salt: bytes, iterations: int, size: int) -> bytes:
    """The PKCS#12 key derivation of RFC 7292 appendix B.2 with ID 3 (MAC key); ``iterations`` is capped."""
    if not 1 <= iterations <= MAX_PFX_ITERATIONS:
        raise ValueError(f"iteration count above the limit of {MAX_PFX_ITERATIONS}")
    block = hashlib.new(hash_name).block_size

    def stretch(value: bytes) -> bytes:  # repeat to a whole number of blocks (empty stays empty)
        if not value:
            return b""
        size = block * -(-len(value) // block)
        return (value * (size // len(value) + 1))[:size]

    diversifier = bytes([3]) * block
    material = bytearray(stretch(salt[:1024]) + stretch(secret))
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
