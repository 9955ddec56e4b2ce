# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/prepare.yml with cmg_certificate_source acme (Pebble + BIND) and csr (a test CA signs the CSR).

Real ansible-playbook runs: the names are checked in the Azure sandbox, the DNS-01 challenge and the CNAME go to the
test BIND over RFC 2136, Pebble issues the certificate.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer, answered_target
from tests.support import pki
from tests.support.ansible import PlaybookRun, run_playbook
from tests.support.azure_sandbox import AzureSandbox
from tests.support.bind import BindServer
from tests.support.pebble import PebbleServer, running_pebble

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "prepare.yml"
ZONE = "contoso.test"
ROLE = "configmgr.cmg.prepare : "
KEY_PASSPHRASE = "source-key-passphrase"
CNAME_TASK = ROLE + "Make the service name CNAME point at the deployment name"
ORDER_TASK = ROLE + "Get the certificate from the ACME CA (DNS-01)"
STOP_TASK = ROLE + "Stop until the CA has issued the certificate"


@pytest.fixture(scope="module")
def pebble(bind_server: BindServer) -> Iterator[PebbleServer]:
    with running_pebble(bind_server.address) as server:
        yield server


def target(service: str) -> str:
    return service.split(".")[0].lower() + ".westus.cloudapp.azure.com"


def dns_vars(bind: BindServer, service: str) -> dict[str, Any]:
    return {"cmg_service_name": service, "cmg_region": "westus", "cmg_certificate_password": pki.PASSWORD,
            "cmg_key_passphrase": KEY_PASSPHRASE, "cmg_dns_provider": "rfc2136", "cmg_dns_zone": ZONE,
            "cmg_dns_server": bind.host, "cmg_dns_port": bind.port, "cmg_dns_key_name": bind.key_name,
            "cmg_dns_key_secret": bind.key_secret, "cmg_dns_nameservers": [bind.address], "cmg_dns_wait_timeout": 30}


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [entry["task"] for entry in run.results if entry["result"].get("changed")]


def report(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "cmg-readiness.json").read_text(encoding="utf-8"))


def source_row(run: PlaybookRun) -> dict[str, Any]:
    checks = run.result(ROLE + "Write the readiness report")["checks"]
    return next(check for check in checks if check["id"] == "certificate.source")


def test_acme_source_orders_builds_the_pfx_and_writes_the_cname_in_one_run(
        pebble: PebbleServer, bind_server: BindServer, azure_sandbox: AzureSandbox, tmp_path: Path) -> None:
    service = "AcmeFalls.Contoso.test"  # mixed case: the CN keeps it
    (tmp_path / "roots.pem").write_text(pebble.root_pem())
    pfx = tmp_path / "certs" / "cmg.pfx"
    pfx.parent.mkdir()
    extra = {**dns_vars(bind_server, service), "cmg_certificate_source": "acme", "cmg_certificate_path": str(pfx),
             "cmg_acme_directory_url": pebble.directory_url, "cmg_acme_ca_path": pebble.ca_path,
             "cmg_acme_terms_agreed": True, "cmg_acme_email": "pki@contoso.test",
             "cmg_ca_bundle": str(tmp_path / "roots.pem"), "cmg_report_dir": str(tmp_path / "report")}

    check = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env(), check=True)
    assert check.rc == 0, check.stdout + check.stderr
    assert not pfx.exists() and sorted(p.name for p in pfx.parent.iterdir()) == []
    assert azure_sandbox.writes() == []

    first = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert first.rc == 0, first.stdout + first.stderr
    assert first.result(ORDER_TASK)["changed"]
    built = first.result(ROLE + "Build the PFX from the ACME certificate")
    assert built["changed"] and built["valid"] and built["path"] == str(pfx)
    assert first.result(CNAME_TASK)["changed"]
    assert answered_target(NameServer(bind_server.host, bind_server.host, bind_server.port), service.lower(), 2) == target(service)
    # the PFX is read by openssl (an independent oracle): CN with its case, Pebble's intermediate after it
    dump = subprocess.run(["openssl", "pkcs12", "-in", str(pfx), "-nokeys", "-passin", f"pass:{pki.PASSWORD}"],
                          capture_output=True, text=True, check=True).stdout
    assert f"subject=CN = {service}" in dump and dump.count("BEGIN CERTIFICATE") == 2
    # the key in the PFX is the CSR's key
    key, _cert, _chain = pkcs12.load_key_and_certificates(pfx.read_bytes(), pki.PASSWORD.encode())
    csr = x509.load_pem_x509_csr((pfx.parent / "cmg.csr").read_bytes())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == \
        csr.public_key().public_bytes(serialization.Encoding.DER, spki)
    assert (pfx.parent / "cmg.key").stat().st_mode & 0o777 == 0o600
    summary = report(tmp_path / "report")
    assert summary["status"] in ("pass", "warn"), summary
    assert "ACME CA " + pebble.directory_url in source_row(first)["message"]
    assert source_row(first)["status"] == "pass"
    assert f"_acme-challenge.{service.lower()}" not in bind_server_txt(bind_server, service)

    orders = pebble.log()
    second = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert second.rc == 0, second.stdout + second.stderr
    assert changed_tasks(second) == [], changed_tasks(second)
    assert second.status(ORDER_TASK) == "skipped"
    assert pebble.log() == orders  # the CA was not contacted
    for secret in (KEY_PASSPHRASE, pki.PASSWORD, bind_server.key_secret):
        assert secret not in first.stdout + second.stdout + (tmp_path / "report" / "cmg-readiness.md").read_text()


def bind_server_txt(bind: BindServer, service: str) -> str:
    """What BIND answers for the challenge name (empty once the record is removed)."""
    import dns.message
    import dns.query
    query = dns.message.make_query(f"_acme-challenge.{service.lower()}", "TXT")
    answer = dns.query.udp(query, bind.host, port=bind.port, timeout=2)
    return "".join(str(rrset) for rrset in answer.answer)


def sign(csr_path: Path, issuing: pki.Issued, root: pki.Issued) -> bytes:
    """The enterprise CA signs the CSR (as certreq -submit would), the issued certificate followed by its chain."""
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    now = pki._now()  # pylint: disable=protected-access
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuing.cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - pki.DAY).not_valid_after(now + 365 * pki.DAY))
    for extension in csr.extensions:
        cert = cert.add_extension(extension.value, extension.critical)
    cert = cert.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    cert = cert.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing.key.public_key()),
                              critical=False)
    # an enterprise CA publishes its CRL and certificate over http, as the CMG's clients need
    cert = cert.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier(pki.CRL_URL)], None, None, None)]), critical=False)
    cert = cert.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(pki.AIA_URL))]), critical=False)
    return pki.pem(cert.sign(issuing.key, hashes.SHA256()), issuing.cert)


def test_csr_source_stops_with_the_next_step_then_builds_the_pfx(
        bind_server: BindServer, azure_sandbox: AzureSandbox, tmp_path: Path) -> None:
    service = "CsrFalls.contoso.test"
    now = pki._now()  # pylint: disable=protected-access
    root = pki.make_cert("Contoso Root", pki.rsa_key(2048, 1), ca=True, not_after=now + 3650 * pki.DAY)
    issuing = pki.make_cert("Contoso Issuing CA", pki.rsa_key(2048, 2), root, ca=True, not_after=now + 1800 * pki.DAY)
    (tmp_path / "ca.pem").write_bytes(pki.pem(root.cert, issuing.cert))
    pfx, issued = tmp_path / "cmg.pfx", tmp_path / "cmg.cer"
    extra = {**dns_vars(bind_server, service), "cmg_certificate_source": "csr", "cmg_certificate_path": str(pfx),
             "cmg_csr_certificate_path": str(issued), "cmg_ca_bundle": str(tmp_path / "ca.pem"),
             "cmg_report_dir": str(tmp_path / "report")}

    first = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert first.rc != 0
    assert first.status(STOP_TASK) == "failed"
    message = first.result(STOP_TASK)["msg"]
    assert str(tmp_path / "cmg.csr") in message and "certreq -submit" in message and str(issued) in message
    assert (tmp_path / "cmg.csr").exists() and not pfx.exists()
    assert azure_sandbox.writes() == []
    assert not any(entry["task"] == CNAME_TASK for entry in first.results)
    assert bind_server_cname(bind_server, service) == ""
    summary = report(tmp_path / "report")
    assert summary["status"] == "fail"
    certificate_rows = [check for check in summary["checks"] if check["step"] == "certificate"]
    assert any(check["status"] == "fail" and "certreq -submit" in check["message"] for check in certificate_rows)

    key_and_csr = [(tmp_path / name).read_bytes() for name in ("cmg.key", "cmg.csr")]
    again = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert again.rc != 0 and again.status(STOP_TASK) == "failed"
    assert not again.result(ROLE + "Make sure the key and the CSR for the enterprise CA exist")["changed"]
    assert [(tmp_path / name).read_bytes() for name in ("cmg.key", "cmg.csr")] == key_and_csr

    issued.write_bytes(sign(tmp_path / "cmg.csr", issuing, root))
    done = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert done.rc == 0, done.stdout + done.stderr
    assert done.result(ROLE + "Build the PFX from the issued certificate")["changed"]
    assert report(tmp_path / "report")["status"] == "pass", [c for c in report(tmp_path / "report")["checks"] if c["status"] != "pass"]
    assert "cmg_certificate_source csr" in source_row(done)["message"]
    assert bind_server_cname(bind_server, service) == target(service) + "."
    dump = subprocess.run(["openssl", "pkcs12", "-in", str(pfx), "-nokeys", "-passin", f"pass:{pki.PASSWORD}"],
                          capture_output=True, text=True, check=True).stdout
    assert f"subject=CN = {service}" in dump

    last = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert last.rc == 0 and changed_tasks(last) == [], changed_tasks(last)


def bind_server_cname(bind: BindServer, service: str) -> str:
    import dns.message
    import dns.query
    answer = dns.query.udp(dns.message.make_query(service.lower(), "CNAME"), bind.host, port=bind.port, timeout=2)
    return "".join(str(rdata) for rrset in answer.answer for rdata in rrset)
