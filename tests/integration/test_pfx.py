"""cmg_request -> (a CA) -> cmg_pfx -> cmg_cert_validate through real ansible-playbook runs."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.support import pki
from tests.support.ansible import play, run_playbook

pytestmark = pytest.mark.integration
SERVICE = "GraniteFalls.contoso.test"
SECRETS = {"key_passphrase": "key-Pa55phrase", "pfx_password": "pfx-Pa55word"}


def test_request_sign_pfx_validate_round_trip(tmp_path):
    first = run_playbook(play([{"name": "csr", "configmgr.cmg.cmg_cert_request": {
        "service_name": SERVICE, "passphrase": "{{ key_passphrase }}", "private_key_path": str(tmp_path / "cmg.key"),
        "csr_path": str(tmp_path / "cmg.csr")}}]), extra_vars=SECRETS)
    assert first.rc == 0, first.stdout
    # the enterprise CA signs the CSR (as certreq -submit would)
    root = pki.make_cert("Round Trip Root", pki.rsa_key(2048, 1), ca=True)
    csr = x509.load_pem_x509_csr((tmp_path / "cmg.csr").read_bytes())
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(root.cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(root.cert.not_valid_before_utc).not_valid_after(root.cert.not_valid_after_utc))
    for extension in csr.extensions:
        cert = cert.add_extension(extension.value, extension.critical)
    cert = cert.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    # a CA names itself in what it issues (RFC 5280 4.2.1.1; the server profile requires it, as Windows CAs add it)
    cert = cert.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
    (tmp_path / "cmg.cer").write_bytes(pki.pem(cert.sign(root.key, hashes.SHA256())))
    (tmp_path / "root.pem").write_bytes(pki.pem(root.cert))
    pfx = {"path": str(tmp_path / "cmg.pfx"), "password": "{{ pfx_password }}", "certificate": str(tmp_path / "cmg.cer"),
           "private_key": str(tmp_path / "cmg.key"), "private_key_passphrase": "{{ key_passphrase }}",
           "ca_bundle": str(tmp_path / "root.pem")}
    tasks = [{"name": "pfx", "configmgr.cmg.cmg_pfx": pfx}, {"name": "again", "configmgr.cmg.cmg_pfx": pfx},
             {"name": "validate", "configmgr.cmg.cmg_cert_validate": {
                 "path": str(tmp_path / "cmg.pfx"), "password": "{{ pfx_password }}",
                 "ca_bundle": str(tmp_path / "root.pem")}}]
    run = run_playbook(play(tasks), extra_vars=SECRETS, diff=True, verbosity=3)
    assert run.rc == 0, run.stdout
    assert run.result("pfx")["changed"] and not run.result("again")["changed"]
    assert run.result("validate")["valid"] and run.result("validate")["certificate"]["common_name"] == SERVICE
    assert run.result("pfx")["thumbprint"] == run.result("validate")["certificate"]["thumbprint"]
    for secret in SECRETS.values():
        assert secret not in run.stdout + run.stderr
    info = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "cmg.pfx"), "-info", "-nokeys",
                           "-passin", "pass:" + SECRETS["pfx_password"]], capture_output=True, text=True, check=True)
    assert "MAC: sha256" in info.stderr + info.stdout and f"CN = {SERVICE}" in info.stdout
