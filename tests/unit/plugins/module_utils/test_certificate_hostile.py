"""Hostile and malformed certificate input (issue 10) and the library-built chain verdict (issue 17).

Each test fails on the code before these changes: a hang, a memory blow-up, a traceback or a wrong finding.
Tests that would hang or grow without bound on a regression run the loader in a child process with a
memory limit and a generous hang guard (the guard is not a timing assertion: the expected path is instant).
"""

from __future__ import annotations

import base64
import datetime
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.configmgr.cmg.plugins.module_utils import _cert_load, _cert_pkcs12, _cert_rules, _certificate
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CertificateError, CmgError
from tests.support import pki
from tests.support.pki import PASSWORD, Corpus

COLLECTIONS = Path(__file__).resolve().parents[4] / ".build" / "collections"
HANG_GUARD = 300  # seconds; only a regression ever comes near it


def validate(**options: Any) -> dict[str, Any]:
    """``_certificate.validate`` for the options of a request."""
    return _certificate.validate(_certificate.ValidationRequest(**options))


def codes(result: dict[str, Any]) -> set[str]:
    """The finding codes of a result."""
    return {item["code"] for item in result["findings"]}


def isolated_load(path: str, password: str | None = PASSWORD) -> str:
    """``load_certificate(path)`` in a child process limited to 1 GiB: its one-line outcome."""
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
              "from ansible_collections.configmgr.cmg.plugins.module_utils._certificate import load_certificate\n"
              "try:\n    load_certificate(sys.argv[1], password=sys.argv[2] or None)\n    print('loaded')\n"
              "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    done = subprocess.run([sys.executable, "-c", script, path, password or ""], env=env, capture_output=True, text=True,
                          timeout=HANG_GUARD, check=False)
    return (done.stdout + done.stderr).strip()


# ---------------------------------------------------------------------------------------------- 10.1 PKCS#12 limits


def test_huge_mac_iteration_count_is_refused_before_any_derivation(cert_corpus: Corpus, tmp_path: Path) -> None:
    data = pki.pfx_with_mac_iterations(cert_corpus.path("good_rsa2048.pfx").read_bytes(), 2**62)
    assert len(data) < 5000  # a small file
    hostile = tmp_path / "huge.pfx"
    hostile.write_bytes(data)
    out = isolated_load(str(hostile))
    assert out.startswith("CertificateError certificate file ") and out.count("\n") == 0, out
    assert f"above the limit of {_cert_pkcs12.MAX_PFX_ITERATIONS}" in out


def test_iteration_count_just_above_the_limit_is_refused_and_at_the_limit_is_not(cert_corpus: Corpus) -> None:
    good = cert_corpus.path("good_rsa2048.pfx").read_bytes()
    over = pki.pfx_with_mac_iterations(good, _cert_pkcs12.MAX_PFX_ITERATIONS + 1)
    with pytest.raises(CertificateError, match=r"asks for 1000001 key derivation iterations, above the limit of 1000000"):
        _certificate.load_certificate(content=base64.b64encode(over).decode(), password=PASSWORD)
    assert list(_cert_load.check_pfx_limits(good, "x") or []) == []
    counts = list(_cert_pkcs12.pfx_iteration_counts(good))
    assert counts and all(1 <= count <= _cert_pkcs12.MAX_PFX_ITERATIONS for count in counts)  # MAC and PBKDF2 found


def test_deep_nesting_is_refused_with_the_limit() -> None:
    data = b"\x02\x01\x03"
    for _level in range(_cert_pkcs12.MAX_DER_DEPTH + 5):
        data = pki.der(0x30, data)
    with pytest.raises(CertificateError, match=f"nested deeper than {_cert_pkcs12.MAX_DER_DEPTH} levels"):
        _certificate.load_certificate(content=base64.b64encode(pki.der(0x30, pki.der_integer(3) + data)).decode(),
                                      fmt="pfx")


# ---------------------------------------------------------------------------------------------- 10.2 linear PEM


def _cpu_seconds(data: bytes) -> float:
    best = float("inf")
    for _round in range(3):
        start = time.process_time()
        try:
            _certificate.load_certificate(content=data)
        except CertificateError:
            pass
        best = min(best, time.process_time() - start)
    return best


def test_pem_reader_time_grows_linearly_with_unmatched_begin_lines() -> None:
    line = b"-----BEGIN CERTIFICATE-----\nAAAA\n"
    small, large = _cpu_seconds(line * 2000), _cpu_seconds(line * 16000)
    # Linear: about 8 times the work for 8 times the input; the old reader was quadratic (about 64 times).
    assert large / max(small, 1e-4) < 24, (small, large)


def test_pem_reader_counts_blocks_in_one_pass() -> None:
    blocks, unmatched = _cert_load.pem_blocks(b"-----BEGIN CERTIFICATE-----\nAAAA\n" * 5000)
    assert (blocks, unmatched) == ([], 5000)
    with pytest.raises(CertificateError, match=f"more than {_cert_load.MAX_PEM_BLOCKS} blocks, the limit"):
        _cert_load.pem_blocks(b"-----BEGIN X-----\nAA\n-----END X-----\n" * (_cert_load.MAX_PEM_BLOCKS + 1))


# ---------------------------------------------------------------------------------------------- 10.3 special files


def test_dev_zero_is_refused_without_reading_it() -> None:
    out = isolated_load("/dev/zero")
    assert out == ("CertificateError certificate file '/dev/zero' is not a regular file (a device, FIFO or socket): "
                   "give a certificate file"), out


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "cert.pfx"
    os.mkfifo(fifo)
    out = isolated_load(str(fifo))
    assert out.startswith(f"CertificateError certificate file '{fifo}' is not a regular file"), out


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * _cert_load.MAX_INPUT_BYTES)
    with pytest.raises(CertificateError, match=f"larger than the limit of {_cert_load.MAX_INPUT_BYTES} bytes"):
        _certificate.load_certificate(str(big))
    with pytest.raises(CertificateError, match="larger than the limit"):
        _certificate.load_certificate(content=base64.b64encode(b"\x30" * (_cert_load.MAX_INPUT_BYTES + 1)).decode())


def test_trust_store_that_is_a_fifo_is_refused(tmp_path: Path, cert_corpus: Corpus) -> None:
    fifo = tmp_path / "roots.pem"
    os.mkfifo(fifo)
    with pytest.raises(CertificateError, match="is not a regular file"):
        validate(path=str(cert_corpus.path("good_rsa2048.pfx")), password=PASSWORD, trust=str(fifo))


# ---------------------------------------------------------------------------------------------- 10.5 malformed parts


def _self_signed_with_sans(cn: str = "AAAA.contoso.com") -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("aaaa.contoso.com")]), False)
            .add_extension(x509.IssuerAlternativeName([x509.DNSName("aaaa.contoso.com")]), False)
            .sign(key, hashes.SHA256()))
    return cert, key


MALFORMED = {
    # name: (old bytes, new bytes, the part named in the message)
    "duplicate_san": (bytes.fromhex("0603551d12"), bytes.fromhex("0603551d11"), "certificate's extensions"),
    "subject_not_utf8": (b"AAAA", b"\xff\xfeAA", "certificate's subject"),
    "unknown_curve": (bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06082a8648ce3d030109"),
                      "certificate's public key"),
    "unknown_key_algorithm": (bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0209"),
                              "certificate's public key"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_certificate_part_is_a_finding(name: str, tmp_path: Path, cert_corpus: Corpus) -> None:
    old, new, part = MALFORMED[name]
    cert, _key = _self_signed_with_sans()
    data = pki.patched(cert, old, new)
    pem_text = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(data) + b"-----END CERTIFICATE-----\n"
    result = validate(content=pem_text.decode(), trust=str(cert_corpus.public_roots), service_name="aaaa.contoso.com")
    malformed = [item for item in result["findings"] if item["code"] == "malformed"]
    assert malformed and malformed[0]["message"].startswith(f"the {part} cannot be read ("), result["findings"]
    assert result["valid"] is False and all("\n" not in item["message"] for item in result["findings"])
    facts = _certificate.certificate_info(pem_text)  # the filter's path: facts, no exception
    assert facts["thumbprint"]


def test_private_key_on_an_unknown_curve_is_a_malformed_finding(cert_corpus: Corpus) -> None:
    leaf = pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), cert_corpus.enterprise_intermediate)
    key_der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_der = key_der.replace(bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06082a8648ce3d030109"))
    key_pem = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(key_der) + b"-----END PRIVATE KEY-----\n"
    result = validate(content=(pki.pem(leaf.cert) + key_pem).decode(), trust=str(cert_corpus.public_roots),
                      ca_bundle=str(cert_corpus.ca_bundle))
    assert codes(result) == {"malformed", "key_missing", "chain_incomplete", "chain_enterprise"}, result["findings"]
    assert [item["message"] for item in result["findings"] if item["code"] == "malformed"][0].startswith(
        "the private key cannot be read (its algorithm or curve is not supported")


# ---------------------------------------------------------------------------------------------- 10.6 wrong answers


def test_md5_signed_leaf_reports_the_weak_signature_not_a_missing_chain(cert_corpus: Corpus, tmp_path: Path) -> None:
    leaf = pki.openssl_resign(tmp_path, pki.make_cert("cmg.contoso.com", pki.rsa_key(2048)),
                              cert_corpus.enterprise_intermediate, "md5")
    bundle = tmp_path / "md5.pfx"
    bundle.write_bytes(pki.pfx(leaf, (cert_corpus.enterprise_intermediate.cert, cert_corpus.enterprise_root.cert)))
    result = validate(path=str(bundle), password=PASSWORD, trust=str(cert_corpus.public_roots),
                      ca_bundle=str(cert_corpus.ca_bundle))
    assert result["certificate"]["signature_hash"] == "md5"
    assert codes(result) == {"weak_signature_hash", "chain_enterprise"}, result["findings"]
    assert result["chain"]["trust"] == "enterprise" and len(result["chain"]["subjects"]) == 3


def test_pfx_with_two_keys_picks_the_matching_one(cert_corpus: Corpus, tmp_path: Path) -> None:
    leaf = pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), cert_corpus.enterprise_intermediate)
    two = tmp_path / "two_keys.pfx"
    two.write_bytes(pki.pfx_two_keys(leaf, pki.rsa_key(2048, 9)))
    bundle = _certificate.load_certificate(str(two), password=PASSWORD)
    assert bundle.key is not None
    facts = _certificate.certificate_facts(bundle.leaf, bundle)
    assert (facts["has_private_key"], facts["private_key_matches"]) == (True, True)


def test_pem_begin_line_with_trailing_whitespace_reads_like_openssl(cert_corpus: Corpus, tmp_path: Path) -> None:
    text = cert_corpus.path("leaf.pem").read_bytes().replace(
        b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN CERTIFICATE----- \t\n")
    spaced = tmp_path / "spaced.pem"
    spaced.write_bytes(text)
    oracle = pki.openssl_facts(spaced)  # openssl reads it
    facts = _certificate.certificate_info(text)
    assert {key: facts[key] for key in oracle} == oracle


@pytest.mark.parametrize("data", [
    bytes([0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]) + bytes(range(40)),
    bytes([0x30, 0x82, 0x7F, 0x00, 0x13, 0x05]) + b"random" * 10,
    bytes([0x30, 0x89]) + bytes(range(100)),
])
def test_random_bytes_starting_with_0x30_are_not_a_certificate(data: bytes) -> None:
    with pytest.raises(CertificateError, match="is not a certificate: it is neither PEM, DER nor PFX"):
        _certificate.load_certificate(content=base64.b64encode(data).decode())


def test_truncated_files_are_still_called_truncated(cert_corpus: Corpus) -> None:
    for name in ("good_rsa2048.pfx", "leaf.der"):
        data = cert_corpus.path(name).read_bytes()
        with pytest.raises(CertificateError, match="is truncated"):
            _certificate.load_certificate(content=base64.b64encode(data[: len(data) // 2]).decode(), password=PASSWORD)


# ---------------------------------------------------------------------------------------------- 10.9 check_urls


def _leaf_with_urls(corpus: Corpus, crl: tuple[str, ...], aia: tuple[str, ...]) -> x509.Certificate:
    return pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), corpus.enterprise_intermediate, crl=crl, aia=aia).cert


def test_check_urls_fetches_concurrently_and_only_http_urls(cert_corpus: Corpus) -> None:
    urls = tuple(f"http://crl{index}.corpus.test/ca.crl" for index in range(4))
    leaf = _leaf_with_urls(cert_corpus, urls + ("ldap:///CN=CDP",), ("http://aia.corpus.test/ca.crt", "file:///etc/passwd"))
    barrier = threading.Barrier(5, timeout=30)  # passes only when all five fetches run at once
    fetched: list[str] = []

    def fetch(url: str, _seconds: float) -> str | None:
        fetched.append(url)
        barrier.wait()
        return "HTTP 404" if "crl3" in url else None

    found = _cert_rules.revocation_findings(leaf, check_urls=True, fetch=fetch)
    assert sorted(fetched) == sorted(urls + ("http://aia.corpus.test/ca.crt",))
    assert [item["message"].split(" cannot")[0] for item in found] == ["http://crl3.corpus.test/ca.crl"]


def test_check_urls_has_one_overall_deadline(cert_corpus: Corpus) -> None:
    leaf = _leaf_with_urls(cert_corpus, ("http://dead1.corpus.test/a.crl", "http://dead2.corpus.test/b.crl"),
                           ("http://alive.corpus.test/ca.crt",))
    never = threading.Event()
    alive = threading.Event()
    given: list[float] = []

    def fetch(url: str, seconds_left: float) -> str | None:
        given.append(seconds_left)
        if "alive" not in url:
            never.wait(60)
        return None

    def clock() -> float:  # injected: time stands still until the live URL has answered, then 11 s have passed
        return 11.0 if alive.is_set() else 0.0

    try:
        found = _cert_rules.revocation_findings(
            leaf, check_urls=True, timeout=10, fetch=fetch, clock=clock,
            on_answer=lambda url: alive.set() if "alive" in url else None)
    finally:
        never.set()
    messages = sorted(item["message"] for item in found)
    dead = ["http://dead1.corpus.test/a.crl", "http://dead2.corpus.test/b.crl"]
    assert [message.split(" cannot")[0] for message in messages] == dead
    assert all("no answer within the 10 s deadline of check_urls" in message for message in messages)
    assert given and all(seconds <= 10 for seconds in given)  # each fetch gets what is left of the one deadline


def test_unreachable_refuses_other_schemes() -> None:
    assert _cert_rules.unreachable("file:///etc/passwd", 1) == "only http and https URLs are fetched, not 'file'"


# ---------------------------------------------------------------------------------------------- 17: the verifier


def _issue(subject: str, key: Any, issuer_name: str, issuer_key: Any, *, ca: bool, aki: bool = True,
           sans: tuple[str, ...] = (), issuer_public: Any = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=300))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if aki:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            (issuer_public or issuer_key.public_key())), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), True)
    else:
        builder = builder.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in sans]), False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trusted root R, an untrusted root U, and one issuing CA key certified by both (a cross-signature)."""
    keys = {name: pki.rsa_key(2048, index) for index, name in enumerate(("R", "U", "CA", "leaf"), start=20)}
    root = _issue("Cross Root R", keys["R"], "Cross Root R", keys["R"], ca=True)
    other = _issue("Cross Root U", keys["U"], "Cross Root U", keys["U"], ca=True)
    by_other = _issue("Cross CA", keys["CA"], "Cross Root U", keys["U"], ca=True)
    by_root = _issue("Cross CA", keys["CA"], "Cross Root R", keys["R"], ca=True)
    directory = tmp_path_factory.mktemp("cross")
    (directory / "roots.pem").write_bytes(pki.pem(root))
    return {"keys": keys, "root": root, "other": other, "by_other": by_other, "by_root": by_root, "dir": directory}


def test_library_finds_the_trusted_path_past_a_dead_end(cross: dict[str, Any], cert_corpus: Corpus) -> None:
    leaf = _issue("cmg.contoso.com", cross["keys"]["leaf"], "Cross CA", cross["keys"]["CA"], ca=False,
                  sans=("cmg.contoso.com",))
    # The file offers the cross-signature by the untrusted root first: a greedy path builder ends there.
    content = pki.pem(leaf, cross["keys"]["leaf"], cross["by_other"], cross["other"], cross["by_root"])
    result = validate(content=content.decode(), trust=str(cross["dir"] / "roots.pem"))
    assert result["chain"] == {"trust": "public", "complete": True,
                               "subjects": ["CN=cmg.contoso.com", "CN=Cross CA", "CN=Cross Root R"]}
    assert codes(result) == {"crl_not_published", "aia_not_published"}, result["findings"]


def test_leaf_without_authority_key_identifier_fails_with_the_library_reason(cross: dict[str, Any]) -> None:
    leaf = _issue("cmg.contoso.com", cross["keys"]["leaf"], "Cross CA", cross["keys"]["CA"], ca=False, aki=False,
                  sans=("cmg.contoso.com",))
    result = validate(content=pki.pem(leaf, cross["keys"]["leaf"], cross["by_root"]).decode(),
                      trust=str(cross["dir"] / "roots.pem"))
    invalid = [item["message"] for item in result["findings"] if item["code"] == "chain_invalid"]
    assert invalid and "2.5.29.35" in invalid[0] and "missing required extension" in invalid[0].lower(), invalid
    assert result["chain"]["trust"] == "public" and result["valid"] is False


def test_ca_certificate_as_leaf_is_chain_invalid(cross: dict[str, Any]) -> None:
    leaf = _issue("cmg.contoso.com", cross["keys"]["leaf"], "Cross CA", cross["keys"]["CA"], ca=True,
                  sans=("cmg.contoso.com",))
    result = validate(content=pki.pem(leaf, cross["by_root"]).decode(), trust=str(cross["dir"] / "roots.pem"))
    invalid = [item["message"] for item in result["findings"] if item["code"] == "chain_invalid"]
    assert invalid and "basicConstraints.cA must not be asserted in an EE certificate" in invalid[0], result["findings"]


def test_trusted_certificate_that_is_not_self_signed_is_an_anchor(cross: dict[str, Any], tmp_path: Path) -> None:
    leaf = _issue("cmg.contoso.com", cross["keys"]["leaf"], "Cross CA", cross["keys"]["CA"], ca=False,
                  sans=("cmg.contoso.com",))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(pki.pem(cross["by_other"]))  # an intermediate trusted directly, its root nowhere
    result = validate(content=pki.pem(leaf, cross["keys"]["leaf"]).decode(), trust=str(anchors))
    assert result["chain"]["trust"] == "public" and result["chain"]["subjects"] == ["CN=cmg.contoso.com", "CN=Cross CA"]


def test_cn_only_certificate_stays_usable_with_a_warning(cert_corpus: Corpus, tmp_path: Path) -> None:
    leaf = pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), cert_corpus.enterprise_intermediate, sans=())
    bundle = tmp_path / "cn_only.pem"
    bundle.write_bytes(pki.pem(leaf.cert, leaf.key, cert_corpus.enterprise_intermediate.cert))
    result = validate(path=str(bundle), trust=str(cert_corpus.public_roots), ca_bundle=str(cert_corpus.ca_bundle))
    assert codes(result) == {"san_missing", "chain_enterprise"} and result["valid"] is True
    warning = [item for item in result["findings"] if item["code"] == "san_missing"][0]
    assert warning["severity"] == "warning" and "modern TLS clients" in warning["message"]


# ---------------------------------------------------------------------------------------------- 11: dependency gate


def test_too_old_cryptography_fails_with_the_minimum_version() -> None:
    with pytest.raises(CmgError) as caught:
        _cert_load.check_cryptography_version("44.0.3")
    assert str(caught.value) == (
        f"the Python package cryptography 44.0.3 is too old: configmgr.cmg needs cryptography >= "
        f"{_cert_load.MIN_CRYPTOGRAPHY} on the host that runs this task (pip install "
        f"'cryptography>={_cert_load.MIN_CRYPTOGRAPHY}')")
    _cert_load.check_cryptography_version(_cert_load.MIN_CRYPTOGRAPHY)
    _cert_load.check_cryptography_version("50.0.2")


def test_minimum_cryptography_version_is_stated_the_same_everywhere() -> None:
    root = Path(__file__).resolve().parents[4]
    fragment = (root / "plugins" / "doc_fragments" / "_cryptography.py").read_text(encoding="utf-8")
    requirements = (root / "requirements.txt").read_text(encoding="utf-8")
    assert f"cryptography >= {_cert_load.MIN_CRYPTOGRAPHY}" in fragment
    assert f"cryptography>={_cert_load.MIN_CRYPTOGRAPHY}\n" in requirements
    module = (root / "plugins" / "modules" / "cmg_cert_validate.py").read_text(encoding="utf-8")
    assert "configmgr.cmg._cryptography" in module and "cryptography >=" not in module


def test_trust_directory_is_bounded_in_total_size(tmp_path: Path, cert_corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.configmgr.cmg.plugins.module_utils import _cert_trust
    monkeypatch.setattr(_cert_trust, "MAX_STORE_BYTES", 3000)
    for index in range(3):
        (tmp_path / f"root{index}.pem").write_bytes(cert_corpus.public_roots.read_bytes() + b"#" * 800)
    with pytest.raises(CertificateError, match="holds more than 3000 bytes of files, the limit"):
        validate(path=str(cert_corpus.path("good_rsa2048.pfx")), password=PASSWORD, trust=str(tmp_path))


def test_untrusted_chain_is_described_up_to_the_files_own_root(cert_corpus: Corpus) -> None:
    case = next(case for case in pki.CASES if case.name == "untrusted")
    result = validate(**cert_corpus.options(case))
    assert result["chain"] == {"trust": "untrusted", "complete": True,
                               "subjects": ["CN=cmg.contoso.com,O=Corpus", "CN=Corpus Unknown Root,O=Corpus"]}
    message = [item["message"] for item in result["findings"] if item["code"] == "chain_untrusted"][0]
    assert message.startswith("the chain reaches no trusted root (its root 'CN=Corpus Unknown Root,O=Corpus' is not "
                              "trusted; cryptography: validation failed")
