"""The ACME path through real ansible-playbook runs: cmg_cert_request -> cmg_cert_acme (Pebble, DNS-01 on BIND)
-> cmg_pfx -> cmg_cert_validate, the PFX read by the openssl CLI; and DNS-01 in Azure DNS (the sandbox), served to
Pebble by a BIND that mirrors the sandbox zone as Azure's name servers serve a zone written through ARM."""

from __future__ import annotations

import os
import subprocess
from typing import Iterator

import pytest

from tests.support.ansible import play, run_playbook
from tests.support.azure_dns_mirror import AzureDnsMirror, SandboxState
from tests.support.azure_sandbox import AzureSandbox
from tests.support.bind import BindServer, running_named
from tests.support.pebble import PebbleServer, running_pebble

pytestmark = pytest.mark.integration
SERVICE = "GraniteFalls.Contoso.test"
SECRETS = {"key_passphrase": "key-Pa55phrase", "pfx_password": "pfx-Pa55word", "tsig_secret": ""}


@pytest.fixture(scope="module")
def pebble(bind_server: BindServer) -> Iterator[PebbleServer]:
    """Pebble (default 5% nonce rejection on) resolving DNS-01 at the test BIND."""
    with running_pebble(bind_server.address) as server:
        yield server


def openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def test_acme_path_to_a_validated_pfx(pebble, bind_server, tmp_path):
    (tmp_path / "pebble-root.pem").write_text(pebble.root_pem())
    secrets = dict(SECRETS, tsig_secret=bind_server.key_secret)
    acme = {"directory_url": pebble.directory_url, "ca_path": pebble.ca_path,
            "account_key_path": str(tmp_path / "account.key"), "account_email": "pki@contoso.test",
            "terms_agreed": True, "csr_path": str(tmp_path / "cmg.csr"), "certificate_path": str(tmp_path / "cmg.crt"),
            "chain_path": str(tmp_path / "chain.crt"), "provider": "rfc2136", "server": bind_server.host, "port": bind_server.port,
            "key_name": bind_server.key_name, "key_secret": "{{ tsig_secret }}", "wait_interval": 0.1}
    pfx = {"path": str(tmp_path / "cmg.pfx"), "password": "{{ pfx_password }}", "certificate": str(tmp_path / "cmg.crt"),
           "chain": [str(tmp_path / "chain.crt")], "private_key": str(tmp_path / "cmg.key"),
           "private_key_passphrase": "{{ key_passphrase }}", "ca_bundle": str(tmp_path / "pebble-root.pem")}
    tasks = [
        {"name": "csr", "configmgr.cmg.cmg_cert_request": {
            "service_name": SERVICE, "passphrase": "{{ key_passphrase }}", "private_key_path": str(tmp_path / "cmg.key"),
            "csr_path": str(tmp_path / "cmg.csr")}},
        {"name": "acme check", "configmgr.cmg.cmg_cert_acme": acme, "check_mode": True},
        {"name": "acme", "configmgr.cmg.cmg_cert_acme": acme},
        {"name": "acme again", "configmgr.cmg.cmg_cert_acme": acme},
        {"name": "pfx", "configmgr.cmg.cmg_pfx": pfx},
        {"name": "validate", "configmgr.cmg.cmg_cert_validate": {
            "path": str(tmp_path / "cmg.pfx"), "password": "{{ pfx_password }}",
            "ca_bundle": str(tmp_path / "pebble-root.pem")}},
    ]
    run = run_playbook(play(tasks), extra_vars=secrets, diff=True, verbosity=3)
    assert run.rc == 0, run.stdout
    assert run.result("acme check")["changed"] and run.result("acme check")["renewal_reason"] == "no certificate yet"
    issued = run.result("acme")
    assert issued["changed"] and issued["subject"] == f"CN={SERVICE}"
    assert issued["public_key_sha256"] == run.result("csr")["public_key_sha256"]
    again = run.result("acme again")
    assert not again["changed"] and again["renewal_reason"] == "" and again["thumbprint"] == issued["thumbprint"]
    assert "account_uri" not in again  # the CA was not contacted
    validated = run.result("validate")
    assert validated["valid"] and validated["chain"]["trust"] == "enterprise" and validated["chain"]["complete"]
    assert validated["certificate"]["common_name"] == SERVICE and validated["certificate"]["thumbprint"] == issued["thumbprint"]
    for secret in secrets.values():
        assert secret not in run.stdout + run.stderr
    assert oct(os.stat(tmp_path / "account.key").st_mode & 0o777) == "0o600"
    # openssl, independent of our code: it opens the PFX, finds the chain, and the PFX key is the CSR's key
    dump = openssl("pkcs12", "-in", str(tmp_path / "cmg.pfx"), "-nodes", "-passin", "pass:" + SECRETS["pfx_password"])
    assert f"subject=CN = {SERVICE}".encode() in dump and b"Pebble Intermediate" in dump
    assert openssl("pkey", "-pubout", data=dump) == openssl("req", "-in", str(tmp_path / "cmg.csr"), "-noout", "-pubkey")
    # due for renewal: a new certificate for the same key and the same CN, case kept
    renew = run_playbook(play([{"name": "renew", "configmgr.cmg.cmg_cert_acme": dict(acme, remaining_days=365)}]),
                         extra_vars=secrets)
    renewed = renew.result("renew")
    assert renew.rc == 0 and renewed["changed"] and renewed["renewal_reason"].endswith("renewal is due at 365")
    assert renewed["thumbprint"] != issued["thumbprint"] and renewed["subject"] == f"CN={SERVICE}"


def test_missing_terms_fails_with_a_message(pebble, bind_server, tmp_path):
    (tmp_path / "x.csr").write_bytes(subprocess.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null", "-subj", "/CN=x.contoso.test"],
        capture_output=True, check=True).stdout)
    run = run_playbook(play([{"name": "acme", "ignore_errors": True, "configmgr.cmg.cmg_cert_acme": {
        "directory_url": pebble.directory_url, "ca_path": pebble.ca_path, "account_key_path": str(tmp_path / "a.key"),
        "csr_path": str(tmp_path / "x.csr"), "provider": "rfc2136", "server": bind_server.host, "port": bind_server.port}}]))
    assert "set terms_agreed: true" in run.result("acme")["msg"]


AZURE_SERVICE = "GraniteFalls.Contoso.com"
AZURE_TXT = "/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/contoso.com/TXT/_acme-challenge.granitefalls"


def azure_order(tmp_path, nameserver: str, pebble: PebbleServer, name: str) -> dict:
    """cmg_cert_request + cmg_cert_acme with the default provider (azure_dns), resource_group from the azure group."""
    return {"csr": {"name": f"csr {name}", "configmgr.cmg.cmg_cert_request": {
        "service_name": AZURE_SERVICE, "passphrase": "{{ key_passphrase }}", "private_key_path": str(tmp_path / f"{name}.key"),
        "csr_path": str(tmp_path / f"{name}.csr")}},
        "acme": {"name": name, "configmgr.cmg.cmg_cert_acme": {
            "directory_url": pebble.directory_url, "ca_path": pebble.ca_path, "account_key_path": str(tmp_path / "a.key"),
            "terms_agreed": True, "csr_path": str(tmp_path / f"{name}.csr"),
            "certificate_path": str(tmp_path / f"{name}.crt"), "nameservers": [nameserver], "wait_interval": 0.1,
            "wait_timeout": 60}}}


def txt_writes(sandbox: AzureSandbox) -> list[tuple[str, dict]]:
    return [(request.method, {key.lower(): value for key, value in request.headers.items()})
            for request in sandbox.writes() if request.path.endswith(AZURE_TXT)]


def test_azure_dns_path(azure_sandbox_server: AzureSandbox, tmp_path):
    """DNS-01 written through ARM (conditional PUT, then DELETE), waited for at the zone's server, validated by Pebble."""
    sandbox = azure_sandbox_server
    sandbox.reset()
    sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"},
                                    {"name": "contoso.com", "resourceGroup": "rg-other"}]}})
    with running_named(("contoso.com",)) as bind, \
            AzureDnsMirror(SandboxState(sandbox.url, sandbox.ca_file), bind, "contoso.com", "rg-dns", 0.1) as mirror, \
            running_pebble(bind.address) as pebble:
        order = azure_order(tmp_path, bind.address, pebble, "azure")
        run = run_playbook(play([order["csr"], order["acme"]], module_defaults={
            "group/configmgr.cmg.azure": {"resource_group": "rg-dns"}}), env=sandbox.env(),
            extra_vars={"key_passphrase": "key-Pa55phrase"})
        assert mirror.error is None
    assert run.rc == 0, run.stdout + run.stderr
    issued = run.result("azure")
    assert issued["changed"] and issued["subject"] == f"CN={AZURE_SERVICE}" and issued["auth_source_used"] == "env"
    assert issued["challenge_records"][0]["fqdn"] == "_acme-challenge.granitefalls.contoso.com"
    writes = txt_writes(sandbox)
    assert [method for method, _headers in writes] == ["PUT", "DELETE"]
    assert writes[0][1].get("if-none-match") == "*" and writes[1][1].get("if-match")  # conditional, as cmg_cname
    records = sandbox.state["dns"]["zones"]["rg-dns/contoso.com"]["records"]
    assert not [key for key in records if key.endswith("/TXT")]  # removed after success
    assert sandbox.client_secret not in run.stdout + run.stderr
    sandbox.reset()


def test_azure_dns_failed_challenge_leaves_no_txt_record(azure_sandbox_server: AzureSandbox, tmp_path):
    """Pebble asks a BIND that never sees the sandbox zone: the challenge fails, the TXT record set is deleted."""
    sandbox = azure_sandbox_server
    sandbox.reset()
    sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    with running_named(("contoso.com",)) as bind, running_named(("contoso.com",)) as elsewhere, \
            AzureDnsMirror(SandboxState(sandbox.url, sandbox.ca_file), bind, "contoso.com", "rg-dns", 0.1), \
            running_pebble(elsewhere.address) as blind:
        order = azure_order(tmp_path, bind.address, blind, "blind")
        order["acme"]["ignore_errors"] = True
        run = run_playbook(play([order["csr"], order["acme"]]), env=sandbox.env(),
                           extra_vars={"key_passphrase": "key-Pa55phrase"})
    failed = run.result("blind")
    assert failed.get("failed") and "the DNS-01 challenge failed: granitefalls.contoso.com" in failed["msg"], failed
    assert [method for method, _headers in txt_writes(sandbox)] == ["PUT", "DELETE"]
    records = sandbox.state["dns"]["zones"]["rg-dns/contoso.com"]["records"]
    assert not [key for key in records if key.endswith("/TXT")]
    sandbox.reset()
