"""cmg_cert_request's logic, judged by the openssl CLI (an oracle independent of cryptography's API)."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._cert_request import RequestSpec, request
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError

SERVICE = "GraniteFalls.Contoso.com"
PASSPHRASE = "correct horse battery staple"


def openssl(*args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["openssl", *args], input=data, capture_output=True, check=True)
    return done.stdout.decode() + done.stderr.decode()


def spec(tmp_path, **extra) -> RequestSpec:
    values = {"service_name": SERVICE, "passphrase": PASSPHRASE, "private_key_path": str(tmp_path / "cmg.key"),
              "csr_path": str(tmp_path / "cmg.csr")}
    values.update(extra)
    return RequestSpec(**values)


def test_key_and_csr_as_the_cmg_needs_them(tmp_path):
    result = request(spec(tmp_path))
    assert result["changed"] and result["changes"] == ["private_key", "csr"]
    text = openssl("req", "-in", str(tmp_path / "cmg.csr"), "-noout", "-text", "-verify")
    assert "verify OK" in text
    assert "Subject: CN = GraniteFalls.Contoso.com\n" in text  # case kept, nothing else in the subject
    assert "DNS:GraniteFalls.Contoso.com" in text
    assert "TLS Web Server Authentication" in text
    assert "sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text
    key_file = tmp_path / "cmg.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # openssl opens the key with the passphrase only, and it is the CSR's key
    with pytest.raises(subprocess.CalledProcessError):
        openssl("pkey", "-in", str(key_file), "-passin", "pass:wrong", "-noout")
    key_pub = openssl("pkey", "-in", str(key_file), "-passin", f"pass:{PASSPHRASE}", "-pubout")
    csr_pub = openssl("req", "-in", str(tmp_path / "cmg.csr"), "-noout", "-pubkey")
    assert key_pub == csr_pub
    assert "PBES2" in openssl("asn1parse", "-in", str(key_file)) or "aes-256" in openssl("asn1parse", "-in", str(key_file))


def test_second_run_rewrites_nothing(tmp_path):
    request(spec(tmp_path))
    before = {name: os.stat(tmp_path / name) for name in ("cmg.key", "cmg.csr")}
    result = request(spec(tmp_path))
    assert not result["changed"] and result["changes"] == []
    for name, info in before.items():
        assert os.stat(tmp_path / name).st_ino == info.st_ino and os.stat(tmp_path / name).st_mtime_ns == info.st_mtime_ns


def test_csr_for_another_case_or_key_is_rewritten_with_the_same_key(tmp_path):
    request(spec(tmp_path, service_name="granitefalls.contoso.com"))
    key_before = (tmp_path / "cmg.key").read_bytes()
    result = request(spec(tmp_path))
    assert result["changes"] == ["csr"]
    assert (tmp_path / "cmg.key").read_bytes() == key_before
    assert "CN = GraniteFalls.Contoso.com" in openssl("req", "-in", str(tmp_path / "cmg.csr"), "-noout", "-subject")
    assert "GraniteFalls.Contoso.com" in result["diff"]["after"] and "granitefalls" in result["diff"]["before"]


def test_check_mode_writes_nothing(tmp_path):
    result = request(spec(tmp_path), check_mode=True)
    assert result["changed"] and not os.listdir(tmp_path)


def test_in_memory_key_is_encrypted_and_reusable(tmp_path):
    first = request(RequestSpec(SERVICE, PASSPHRASE, key_size=4096))
    assert first["private_key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    text = openssl("pkey", "-passin", f"pass:{PASSPHRASE}", "-noout", "-text", data=first["private_key"].encode())
    assert "Private-Key: (4096 bit" in text
    again = request(RequestSpec(SERVICE, PASSPHRASE, key_size=4096, private_key_content=first["private_key"]))
    assert again["public_key_sha256"] == first["public_key_sha256"]


def test_existing_key_of_other_size_or_unencrypted_fails_and_changes_nothing(tmp_path):
    openssl("genrsa", "-out", str(tmp_path / "cmg.key"), "2048")
    with pytest.raises(CmgError, match="not encrypted"):
        request(spec(tmp_path))
    assert not (tmp_path / "cmg.csr").exists()
    request(spec(tmp_path, private_key_path=str(tmp_path / "other.key")))
    with pytest.raises(CmgError, match="RSA 2048, not 4096"):
        request(spec(tmp_path, private_key_path=str(tmp_path / "other.key"), key_size=4096))
    with pytest.raises(CmgError, match="cannot be read"):
        request(spec(tmp_path, private_key_path=str(tmp_path / "other.key"), passphrase="wrong"))


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(CmgError, match="key_size 3072"):
        request(spec(tmp_path, key_size=3072))
    with pytest.raises(CmgError, match="not fully qualified"):
        request(spec(tmp_path, service_name="GraniteFalls"))


def test_certreq_round_trip_commands(tmp_path):
    result = request(spec(tmp_path, ca_config="ca01.contoso.com\\Contoso Issuing CA"))
    assert result["certreq"]["submit"] == ('certreq -submit -attrib "CertificateTemplate:WebServer" '
                                           '-config "ca01.contoso.com\\Contoso Issuing CA" "cmg.csr" "cmg.cer"')
    inf = result["certreq"]["inf"]
    assert 'Subject = "CN=GraniteFalls.Contoso.com"' in inf and "CertificateTemplate = WebServer" in inf
    assert "OID = 1.3.6.1.5.5.7.3.1" in inf and '_continue_ = "dns=GraniteFalls.Contoso.com"' in inf


def test_key_given_as_content_is_written_to_the_missing_path_and_keeps_the_csr(tmp_path):
    first = request(RequestSpec(SERVICE, PASSPHRASE, csr_path=str(tmp_path / "cmg.csr")))
    csr_before = (tmp_path / "cmg.csr").read_bytes()
    result = request(spec(tmp_path, private_key_content=first["private_key"]))
    assert result["changes"] == ["private_key"] and result["public_key_sha256"] == first["public_key_sha256"]
    assert (tmp_path / "cmg.csr").read_bytes() == csr_before
    assert stat.S_IMODE(os.stat(tmp_path / "cmg.key").st_mode) == 0o600
    assert not request(spec(tmp_path))["changed"]


def test_loose_key_file_mode_is_tightened(tmp_path):
    request(spec(tmp_path))
    os.chmod(tmp_path / "cmg.key", 0o644)
    assert request(spec(tmp_path))["changes"] == ["private_key_mode"]
    assert stat.S_IMODE(os.stat(tmp_path / "cmg.key").st_mode) == 0o600
