"""Property-based tests of the certificate loaders (issue 10): random, truncated and bit-flipped input.

The invariant for every input: a :class:`CmgError` whose message is one non-empty line, or a valid result
(a :class:`Bundle`, facts, or a validation result whose findings are each one line); never another
exception. Work is bounded by the loaders' limits (sizes, PEM blocks, PKCS#12 iterations and nesting),
which tests/unit/plugins/module_utils/test_certificate_hostile.py checks; here no wall-clock deadline
applies (``deadline=None``). Inputs hypothesis found that once broke the invariant are kept as
``@example`` regression cases.
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.configmgr.cmg.plugins.module_utils import _certificate
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from tests.support import pki
from tests.support.pki import PASSWORD, Corpus, build_corpus

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)
FILES = ("good_rsa2048.pfx", "legacy_rc2.pfx", "bundle.pem", "encrypted_key.pem", "leaf.der", "leaf.pem")


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The certificate corpus of tests.support.pki."""
    return build_corpus(tmp_path_factory.mktemp("pki"))


def holds(action: Callable[[], Any]) -> Any:
    """Run ``action``: its result, or None after a one-line CmgError; any other exception fails the test."""
    try:
        result = action()
    except CmgError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message, repr(message)
        return None
    if isinstance(result, dict) and "findings" in result:
        assert all(item["message"] and "\n" not in item["message"] for item in result["findings"]), result["findings"]
    return result


def judge(content: str | bytes, corpus: Corpus, password: str | None = PASSWORD) -> Any:
    """Load ``content`` and, when it loads, validate it completely (facts, rules, chain)."""
    text = content if isinstance(content, str) else base64.b64encode(content).decode()
    bundle = holds(lambda: _certificate.load_certificate(content=text, password=password))
    if bundle is not None:
        request = _certificate.ValidationRequest(content=text, password=password, trust=str(corpus.public_roots),
                                                 ca_bundle=str(corpus.ca_bundle), service_name="cmg.contoso.com")
        holds(lambda: _certificate.validate(request))
        holds(lambda: _certificate.certificate_facts(bundle.leaf, bundle))
    return bundle


@SETTINGS
@given(data=st.binary(max_size=4096))
@example(data=bytes([0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]))
@example(data=bytes([0x30, 0x80, 0x02, 0x01, 0x03]))
@example(data=bytes([0x30, 0x03, 0x02, 0x01, 0x03]))
@example(data=bytes([0x30, 0x02, 0x30, 0x00]))
def test_random_bytes(cert_files: Corpus, data: bytes) -> None:
    judge(data, cert_files)


@SETTINGS
@given(prefix=st.sampled_from([b"", b"\x30", b"\x30\x82", b"-----BEGIN CERTIFICATE-----\n"]),
       text=st.text(max_size=2000))
@example(prefix=b"-----BEGIN CERTIFICATE-----\n", text="-----END CERTIFICATE-----\n")
@example(prefix=b"", text="-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
def test_random_text(cert_files: Corpus, prefix: bytes, text: str) -> None:
    judge(prefix.decode("latin-1") + text, cert_files)


@SETTINGS
@given(name=st.sampled_from(FILES), cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_files(cert_files: Corpus, name: str, cut: float) -> None:
    data = cert_files.path(name).read_bytes()
    judge(data[: int(len(data) * cut)], cert_files)


@SETTINGS
@given(name=st.sampled_from(FILES),
       flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 7)), min_size=1, max_size=4))
def test_bit_flipped_files(cert_files: Corpus, name: str, flips: list[tuple[float, int]]) -> None:
    data = bytearray(cert_files.path(name).read_bytes())
    for where, bit in flips:
        data[int(len(data) * where)] ^= 1 << bit
    judge(bytes(data), cert_files)


@SETTINGS
@given(name=st.sampled_from(("bundle.pem", "leaf.pem", "encrypted_key.pem")),
       junk=st.sampled_from([" ", "\t", "\r", "\r\n", "\n\n", "-----", "=", "Proc-Type: 4,ENCRYPTED\n", "\x00"]),
       where=st.floats(0.0, 1.0))
def test_pem_with_inserted_junk(cert_files: Corpus, name: str, junk: str, where: float) -> None:
    text = cert_files.path(name).read_text()
    at = int(len(text) * where)
    judge(text[:at] + junk + text[at:], cert_files)


def _extreme_certificate(serial: int, start: datetime.datetime, days: int, cn: str, sans: list[str]) -> bytes:
    key = pki.rsa_key(2048, 30)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]) if cn else x509.Name([])
    last = datetime.datetime(9999, 12, 31, tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(days=min(days, (last - start).days))
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(serial).not_valid_before(start).not_valid_after(max(end, start)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(item) for item in sans]), False)
    return pki.pem(builder.sign(key, hashes.SHA256()), key)


_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-*", min_size=1, max_size=63)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(serial=st.integers(min_value=1, max_value=2**159 - 1),
       start=st.datetimes(min_value=datetime.datetime(1950, 1, 1), max_value=datetime.datetime(9990, 1, 1),
                          timezones=st.just(datetime.timezone.utc)),
       days=st.integers(min_value=0, max_value=3_000_000),
       cn=st.text(min_size=0, max_size=64).filter(lambda text: "\x00" not in text),
       sans=st.lists(st.lists(_LABEL, min_size=1, max_size=6).map(".".join), max_size=20))
@example(serial=1, start=datetime.datetime(1950, 1, 1, tzinfo=datetime.timezone.utc), days=0, cn="", sans=[])
@example(serial=2**159 - 1, start=datetime.datetime(9990, 1, 1, tzinfo=datetime.timezone.utc), days=3_000_000,
         cn="*", sans=["*.*", "-", "a" * 63])
def test_valid_structures_with_extreme_values(cert_files: Corpus, serial: int, start: datetime.datetime, days: int,
                                              cn: str, sans: list[str]) -> None:
    pem_text = _extreme_certificate(serial, start, days, cn, sans)
    judge(pem_text.decode(), cert_files, password=None)
    holds(lambda: _certificate.certificate_info(pem_text))


@SETTINGS
@given(count=st.integers(min_value=1, max_value=2**70))
@example(count=0)
@example(count=-1)
@example(count=2**31 - 1)
def test_pfx_iteration_counts(cert_files: Corpus, count: int) -> None:
    data = pki.pfx_with_mac_iterations(cert_files.path("good_rsa2048.pfx").read_bytes(), count)
    if count > _certificate.MAX_PFX_ITERATIONS or count < 1:
        with pytest.raises(CmgError, match="limit of 1000000"):
            _certificate.load_certificate(content=base64.b64encode(data).decode(), password=PASSWORD)
    elif count <= 4096:  # small enough to run: the MAC no longer matches, so it is a one-line error
        judge(data, cert_files)


def test_corpus_files_stay_readable(cert_files: Corpus) -> None:
    for name in FILES:
        assert judge(cert_files.path(name).read_bytes(), cert_files) is not None, name


def test_trust_store_paths(cert_files: Corpus, tmp_path: Path) -> None:
    for trust in ("/dev/null", "/dev/zero", str(tmp_path), str(tmp_path / "absent.pem")):
        request = _certificate.ValidationRequest(path=str(cert_files.path("good_rsa2048.pfx")), password=PASSWORD,
                                                 trust=trust)
        holds(lambda: _certificate.validate(request))  # pylint: disable=cell-var-from-loop
