"""The renew role through real ansible-playbook runs against Pebble (ACME) and BIND (DNS-01 over RFC 2136)."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support import pki
from tests.support.ansible import run_playbook
from tests.support.bind import BindServer
from tests.support.pebble import PebbleServer, running_pebble

pytestmark = pytest.mark.integration
SERVICE = "GraniteFalls.Contoso.test"  # mixed case on purpose: a renewal must keep it
PASSWORD = "Renew-Pfx-Pa55"
ROLE = "configmgr.cmg.renew : "
PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "renew.yml"


@pytest.fixture(scope="module")
def pebble(bind_server: BindServer) -> Iterator[PebbleServer]:
    with running_pebble(bind_server.address) as server:
        yield server


def current_pfx(directory: Path, days_left: int) -> Path:
    """The PFX in service today: CN = SERVICE, issued by an enterprise test root, ``days_left`` days to go."""
    now = datetime.datetime.now(datetime.timezone.utc)
    root = pki.make_cert("Renew Test Root", pki.rsa_key(2048, 1), ca=True, not_after=now + datetime.timedelta(days=900))
    leaf = pki.make_cert(SERVICE, pki.rsa_key(2048, 8), root, crl=(), aia=(),
                         not_after=now + datetime.timedelta(days=days_left, hours=1))
    path = directory / "current.pfx"
    path.write_bytes(pki.pfx(leaf, (root.cert,), password=PASSWORD))
    return path


def renew(pebble: PebbleServer, bind: BindServer, directory: Path, current: Path, check: bool = False, **extra: Any):
    (directory / "roots.pem").write_text(pebble.root_pem())
    variables = {
        "cmg_service_name": SERVICE, "cmg_renew_dir": str(directory), "cmg_certificate_path": str(current),
        "cmg_certificate_password": PASSWORD, "cmg_key_passphrase": "renew-key-passphrase",
        "cmg_acme_directory_url": pebble.directory_url, "cmg_acme_ca_path": pebble.ca_path,
        "cmg_acme_terms_agreed": True, "cmg_acme_email": "pki@contoso.test", "cmg_ca_bundle": str(directory / "roots.pem"),
        "cmg_dns_provider": "rfc2136", "cmg_dns_server": bind.host, "cmg_dns_port": bind.port,
        "cmg_dns_key_name": bind.key_name, "cmg_dns_key_secret": bind.key_secret, "cmg_dns_wait_interval": 0.1, **extra}
    return run_playbook(PLAYBOOK, extra_vars=variables, diff=True, check=check)


def changed(run) -> list[str]:
    return [entry["task"] for entry in run.results if entry["result"].get("changed")]


def test_sixty_days_left_changes_nothing(pebble, bind_server, tmp_path):
    current = current_pfx(tmp_path, 60)
    before = sorted(p.name for p in tmp_path.iterdir())
    run = renew(pebble, bind_server, tmp_path, current)
    assert run.rc == 0, run.stdout
    assert changed(run) == [] and "changed=0" in run.stdout
    assert run.result(ROLE + "Decide whether a new certificate is due")["renewal_reason"] == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["roots.pem"])  # no key, CSR, account, PFX


def test_ten_days_left_renews_next_to_the_old_pfx(pebble, bind_server, tmp_path):
    current = current_pfx(tmp_path, 10)
    old_bytes = current.read_bytes()
    run = renew(pebble, bind_server, tmp_path, current)
    assert run.rc == 0, run.stdout
    plan = run.result(ROLE + "Decide whether a new certificate is due")
    assert plan["renewal_reason"] == "the certificate in service has 10 days left, renewal is due at 30"
    pfx = run.result(ROLE + "Build the new PFX next to the current one and check it against it")
    assert pfx["changed"] and pfx["valid"] and pfx["common_name"] == SERVICE
    assert current.read_bytes() == old_bytes  # the only good copy is never overwritten
    new = Path(pfx["path"])
    assert new.parent == tmp_path and new != current and new.name.startswith(f"{SERVICE}-")
    # openssl reads the new PFX: the CN keeps its case
    dump = subprocess.run(["openssl", "pkcs12", "-in", str(new), "-nokeys", "-passin", f"pass:{PASSWORD}"],
                          capture_output=True, text=True, check=True).stdout
    assert f"subject=CN = {SERVICE}" in dump
    report = json.loads((tmp_path / "cmg-renewal.json").read_text())
    assert report["thumbprint"] == pfx["thumbprint"] and report["pfx"] == str(new)
    assert report["upload"]["powershell"] == (
        f'Set-CMCloudManagementGateway -Name "{SERVICE}" -ServiceCertPath "C:\\CMG\\{new.name}" '
        '-ServiceCertPassword (Read-Host -AsSecureString -Prompt "PFX password")')
    assert pfx["thumbprint"] in (tmp_path / "cmg-renewal.md").read_text()
    assert PASSWORD not in run.stdout + (tmp_path / "cmg-renewal.md").read_text()
    # scheduled again: the new certificate has 90 days; nothing changes, the CA is not asked
    again = renew(pebble, bind_server, tmp_path, current)
    assert again.rc == 0 and changed(again) == [], again.stdout
    assert again.status(ROLE + "Get the certificate from the ACME CA (DNS-01)") == "skipped"


def test_cn_case_change_is_refused_before_any_order(pebble, bind_server, tmp_path):
    current = current_pfx(tmp_path, 10)
    run = renew(pebble, bind_server, tmp_path, current, cmg_service_name=SERVICE.lower())
    assert run.rc != 0
    assert not list(tmp_path.glob("*.crt"))
    messages = " ".join(str(entry["result"].get("msg", "")) for entry in run.results)
    assert "case included" in messages


def test_check_mode_reports_the_renewal_and_writes_nothing(pebble, bind_server, tmp_path):
    current = current_pfx(tmp_path, 10)
    run = renew(pebble, bind_server, tmp_path, current, check=True)
    assert run.rc == 0, run.stdout
    order = run.result(ROLE + "Get the certificate from the ACME CA (DNS-01)")
    assert order["changed"] and order["renewal_reason"] == "the certificate in service has 10 days left, renewal is due at 30"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.pfx", "roots.pem"]
