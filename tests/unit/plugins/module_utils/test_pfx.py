"""cmg_pfx's logic: PFX built, re-packaged and kept, judged by the openssl CLI and the collection's validation."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from ansible_collections.configmgr.cmg.plugins.module_utils._pfx import PfxSpec, encryption_of, make_pfx
from tests.support import pki

SERVICE = "GraniteFalls.Contoso.com"
PASSWORD = "Pfx-Pa55word!"
KEY_PASSPHRASE = "key passphrase"


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> dict[str, Path]:
    """An enterprise root (the only thing the validation trusts), an issuing CA and a leaf with its encrypted key."""
    base = tmp_path_factory.mktemp("pfx")
    root = pki.make_cert("PFX Test Root", pki.rsa_key(2048, 1), ca=True)
    issuing = pki.make_cert("PFX Test Issuing CA", pki.rsa_key(2048, 2), root, ca=True)
    leaf = pki.make_cert(SERVICE, pki.rsa_key(2048, 7), issuing, crl=(), aia=())
    client = pki.make_cert(SERVICE, pki.rsa_key(2048, 7), issuing, crl=(), aia=(), eku=(pki.CLIENT_AUTH,))
    files = {"root": pki.pem(root.cert), "issuing": pki.pem(issuing.cert), "leaf": pki.pem(leaf.cert),
             "client": pki.pem(client.cert),
             "key": leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(KEY_PASSPHRASE.encode())),
             "legacy_no_chain.pfx": pki.openssl_legacy_pfx(base, leaf, (root.cert,), password=PASSWORD)}
    paths = {}
    for name, data in files.items():
        paths[name] = base / name
        paths[name].write_bytes(data)
    return paths


def spec(material, path, **extra) -> PfxSpec:
    values = {"path": str(path), "password": PASSWORD, "certificate": str(material["leaf"]),
              "private_key": str(material["key"]), "private_key_passphrase": KEY_PASSPHRASE,
              "chain": [str(material["issuing"])], "service_name": SERVICE, "ca_bundle": str(material["root"])}
    values.update(extra)
    return PfxSpec(**values)


def openssl_info(path: Path, *extra: str) -> str:
    done = subprocess.run(["openssl", "pkcs12", "-in", str(path), "-info", "-passin", f"pass:{PASSWORD}", "-nodes",
                           *extra], capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def test_modern_pfx_read_by_openssl_and_accepted(material, tmp_path):
    out = tmp_path / "cmg.pfx"
    result = make_pfx(spec(material, out))
    assert result["changed"] and result["valid"] and result["encryption"] == "modern"
    assert result["validation"]["chain"]["complete"] and result["validation"]["chain"]["trust"] == "enterprise"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    info = openssl_info(out)
    assert "MAC: sha256" in info
    structure = openssl_info(out, "-noout")  # the bags' algorithms without the PEM, whose base64 may spell "RC2"
    assert "PBES2, PBKDF2, AES-256-CBC" in structure and "RC2" not in structure and "3DES" not in structure
    assert f"subject=CN = {SERVICE}" in info.replace("O = Corpus, ", "")
    assert "issuer=O = Corpus, CN = PFX Test Root" in info  # the intermediate is in the file
    # the key in the PFX is the key we gave
    key = subprocess.run(["openssl", "pkey", "-pubout"], input=info.encode(), capture_output=True, check=True).stdout
    given = subprocess.run(["openssl", "pkey", "-in", str(material["key"]), "-passin", f"pass:{KEY_PASSPHRASE}",
                            "-pubout"], capture_output=True, check=True).stdout
    assert key == given


def test_same_contents_not_rewritten_and_encryption_change_is(material, tmp_path):
    out = tmp_path / "cmg.pfx"
    make_pfx(spec(material, out))
    before = os.stat(out)
    again = make_pfx(spec(material, out))
    assert not again["changed"] and os.stat(out).st_mtime_ns == before.st_mtime_ns and os.stat(out).st_ino == before.st_ino
    legacy = make_pfx(spec(material, out, encryption="legacy"))
    assert legacy["changed"] and legacy["diff"]["before"]["encryption"] == "modern"
    info = openssl_info(out)
    assert "MAC: sha1" in info and "pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert encryption_of(out.read_bytes()) == "legacy"
    assert not make_pfx(spec(material, out, encryption="legacy"))["changed"]


def test_check_mode_writes_nothing(material, tmp_path):
    result = make_pfx(spec(material, tmp_path / "cmg.pfx"), check_mode=True)
    assert result["changed"] and not os.listdir(tmp_path)


def test_repackage_legacy_rc2_pfx_missing_its_intermediate(material, tmp_path):
    source = material["legacy_no_chain.pfx"]
    assert encryption_of(source.read_bytes()) == "rc2"
    out = tmp_path / "cmg.pfx"
    result = make_pfx(PfxSpec(path=str(out), password=PASSWORD, source_pfx=str(source), chain=[str(material["issuing"])],
                              service_name=SERVICE, ca_bundle=str(material["root"])))
    assert result["valid"] and result["validation"]["chain"]["complete"]
    assert result["chain"] == ["CN=PFX Test Issuing CA,O=Corpus", "CN=PFX Test Root,O=Corpus"]
    assert encryption_of(out.read_bytes()) == "modern"
    assert "issuer=O = Corpus, CN = PFX Test Root" in openssl_info(out)


def test_a_pfx_that_fails_validation_is_not_written(material, tmp_path):
    out = tmp_path / "cmg.pfx"
    make_pfx(spec(material, out))
    good = out.read_bytes()
    result = make_pfx(spec(material, out, certificate=str(material["client"])))
    assert result["failed"] and "nothing was written: eku_no_server_auth" in result["msg"]
    assert not result["changed"] and out.read_bytes() == good


def test_key_of_another_certificate_fails(material, tmp_path):
    with pytest.raises(CmgError, match="no certificate matches the private key"):
        make_pfx(spec(material, tmp_path / "x.pfx", certificate=str(material["issuing"]), chain=[]))
    assert not (tmp_path / "x.pfx").exists()


def test_renewal_keeps_the_cn_and_gives_the_upload_step(material, tmp_path):
    old = tmp_path / "old.pfx"
    make_pfx(spec(material, old))
    other = pki.make_cert(SERVICE.lower(), pki.rsa_key(2048, 7), crl=(), aia=())
    (tmp_path / "lower.pem").write_bytes(pki.pem(other.cert))
    refused = make_pfx(spec(material, tmp_path / "new.pfx", certificate=str(tmp_path / "lower.pem"), chain=[],
                            service_name=None, ca_bundle=str(tmp_path / "lower.pem"), previous_certificate=str(old)))
    assert refused["failed"] and "renewal_cn_mismatch" in refused["msg"]
    assert not (tmp_path / "new.pfx").exists()
    result = make_pfx(spec(material, tmp_path / "new.pfx", previous_certificate=str(old), cmg_name="GraniteFalls"))
    assert result["valid"] and result["upload"] == {
        "copy_to": "C:\\CMG\\new.pfx", "thumbprint": result["thumbprint"],
        "powershell": 'Set-CMCloudManagementGateway -Name "GraniteFalls" -ServiceCertPath "C:\\CMG\\new.pfx" '
                      '-ServiceCertPassword (Read-Host -AsSecureString -Prompt "PFX password")'}


def test_existing_pfx_with_another_password_is_not_overwritten(material, tmp_path):
    out = tmp_path / "cmg.pfx"
    make_pfx(spec(material, out, password="another-password"))
    before = out.read_bytes()
    with pytest.raises(CmgError, match="it is not overwritten: give its password, or another path"):
        make_pfx(spec(material, out))
    assert out.read_bytes() == before


def test_a_pfx_in_place_is_decrypted_once(material, tmp_path, monkeypatch):
    """Speed (issue 16): the re-run reads the PFX in place and judges the same bytes; one decryption serves both."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    from ansible_collections.configmgr.cmg.plugins.module_utils import _cert_load

    out = tmp_path / "cmg.pfx"
    make_pfx(spec(material, out))
    monkeypatch.setattr(_cert_load, "_OPENED", [], raising=False)  # a new task is a new process: nothing remembered
    opened: list[bytes] = []
    real = pkcs12.load_pkcs12

    def counting(data, password, *args, **kwargs):
        opened.append(data)
        return real(data, password, *args, **kwargs)

    monkeypatch.setattr(pkcs12, "load_pkcs12", counting)
    again = make_pfx(spec(material, out))
    assert not again["changed"] and again["valid"]
    assert opened == [out.read_bytes()]
    # another password is another decryption (and is refused): nothing is reused across passwords
    with pytest.raises(CmgError, match="cannot be opened"):
        make_pfx(spec(material, out, password="Another-Pa55word"))
    assert len(opened) == 2
