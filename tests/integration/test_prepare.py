# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/prepare.yml end to end: the sandbox's Azure (names, Azure DNS with a contoso.com zone) and BIND (RFC 2136).

Each scenario runs the real playbook through ansible-playbook with the AZURE_* environment of the sandbox and
asserts on the task results, on what reached Azure or BIND, and on the report files.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any, Iterator

import dns.query
import dns.tsigkeyring
import dns.update
import pytest
from junitparser import JUnitXml

from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer, answered_target
from tests.support import pki
from tests.support.ansible import PlaybookRun, run_playbook
from tests.support.azure_sandbox import AzureSandbox
from tests.support.bind import BindServer, running_named

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "prepare.yml"
TARGET = "granitefalls.westus.cloudapp.azure.com"
ROLE = "configmgr.cmg.prepare : "
CNAME_TASK = ROLE + "Make the service name CNAME point at the deployment name"
REPORT_TASK = ROLE + "Write the readiness report"
FILES = ("cmg-readiness.json", "cmg-readiness.md", "cmg-readiness.junit.xml")


class Pki:
    """A test enterprise PKI (root, issuing CA) that issues PFX files for the CMG."""

    def __init__(self, directory: Path) -> None:
        now = pki._now()  # pylint: disable=protected-access
        self.directory = directory
        self.root = pki.make_cert("Contoso Root", pki.rsa_key(2048, 1), ca=True, not_after=now + 3650 * pki.DAY)
        self.issuing = pki.make_cert("Contoso Issuing CA", pki.rsa_key(2048, 2), self.root, ca=True,
                                     not_after=now + 1800 * pki.DAY)
        self.ca_bundle = directory / "ca_bundle.pem"
        self.ca_bundle.write_bytes(pki.pem(self.root.cert, self.issuing.cert))

    def pfx(self, name: str, cn: str, **kwargs: Any) -> Path:
        """A PFX (password pki.PASSWORD) for ``cn`` issued by the issuing CA, with its chain."""
        leaf = pki.make_cert(cn, pki.rsa_key(2048), self.issuing, **kwargs)
        path = self.directory / name
        path.write_bytes(pki.pfx(leaf, (self.issuing.cert, self.root.cert)))
        return path


@pytest.fixture(scope="module")
def contoso_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def role_vars(contoso_pki: Pki, certificate: Path, report_dir: Path, **extra: Any) -> dict[str, Any]:
    """The playbook's extra vars: the certificate, West US, the report directory."""
    return {"cmg_certificate_path": str(certificate), "cmg_certificate_password": pki.PASSWORD,
            "cmg_ca_bundle": str(contoso_pki.ca_bundle), "cmg_region": "West US", "cmg_report_dir": str(report_dir),
            **extra}


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [entry["task"] for entry in run.results if entry["result"].get("changed")]


def report_json(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "cmg-readiness.json").read_text(encoding="utf-8"))


def assert_no_secret(report_dir: Path, *runs: PlaybookRun, secrets: tuple[str, ...] = (pki.PASSWORD,)) -> None:
    texts = [(report_dir / name).read_text(encoding="utf-8") for name in FILES if (report_dir / name).exists()]
    texts += [run.stdout + run.stderr for run in runs]
    for secret in secrets:
        assert all(secret not in text for text in texts), secret
    assert all("PRIVATE KEY" not in text for text in texts)


# ------------------------------------------------------------------------------------------------
# Azure DNS in the sandbox
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def azure_runs(azure_sandbox_server: AzureSandbox, contoso_pki: Pki,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path, AzureSandbox]]:
    """Check mode, then two real runs, against a sandbox with an empty contoso.com zone; the writes of each."""
    sb = azure_sandbox_server
    sb.reset()
    sb.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    report_dir = tmp_path_factory.mktemp("azure") / "report"
    extra = role_vars(contoso_pki, contoso_pki.pfx("granitefalls.pfx", "GraniteFalls.contoso.com"), report_dir,
                      cmg_dns_zone="contoso.com", cmg_dns_resource_group="rg-dns", cmg_wait_for_dns=False)
    runs: dict[str, Any] = {}
    for label, options in (("check", {"check": True, "diff": True}), ("first", {}), ("second", {"diff": True})):
        sb.clear_requests()
        run = run_playbook(PLAYBOOK, extra_vars=extra, env=sb.env(), **options)
        runs[label] = (run, [(request.method, request.path.rsplit("/dnsZones/", 1)[-1]) for request in sb.writes()])
    yield runs, report_dir, sb
    sb.reset()


def test_azure_check_mode_writes_nothing(azure_runs: tuple[dict[str, Any], Path, AzureSandbox]) -> None:
    runs, report_dir, _sb = azure_runs
    run, writes = runs["check"]
    assert run.rc == 0, run.stdout + run.stderr
    assert writes == []
    assert run.result(CNAME_TASK)["changed"] is True
    assert run.result(CNAME_TASK)["diff"]["after"]["target"] == TARGET
    assert run.result(REPORT_TASK)["changed"] is True
    assert run.result(REPORT_TASK)["diff"]["before"] == ""


def test_azure_first_run_creates_the_cname_and_the_report(azure_runs: tuple[dict[str, Any], Path, AzureSandbox]) -> None:
    runs, report_dir, _sb = azure_runs
    run, writes = runs["first"]
    assert run.rc == 0, run.stdout + run.stderr
    assert writes == [("PUT", "contoso.com/CNAME/granitefalls")]
    assert changed_tasks(run) == [CNAME_TASK, REPORT_TASK]
    report = run.result(REPORT_TASK)
    assert report["status"] == "pass"
    assert report["wizard"] == {
        "azure_environment": "AzureCloud", "region": "West US (westus)", "service_name": "GraniteFalls.contoso.com",
        "deployment_name": TARGET, "cname": f"GraniteFalls.contoso.com CNAME {TARGET}",
        "vm_size": "Standard (Standard_A2_v2)", "vm_instances": 1,
        "certificate_thumbprint": report["wizard"]["certificate_thumbprint"],
        "certificate_expires": report["wizard"]["certificate_expires"],
    }
    assert [check["id"] for check in report["checks"] if check["status"] != "pass"] == ["propagation.skipped"]
    assert report["skip_reasons"] == {"propagation": "cmg_wait_for_dns is false"}
    for name in FILES:
        assert stat.S_IMODE((report_dir / name).stat().st_mode) == 0o600
    junit = JUnitXml.fromfile(str(report_dir / "cmg-readiness.junit.xml"))
    assert (junit.tests, junit.failures, junit.errors, junit.skipped) == (len(report["checks"]), 0, 0, 1)
    assert report_json(report_dir)["steps"]["dns"]["record"]["target"] == TARGET
    assert_no_secret(report_dir, *(run for run, _writes in runs.values()))


def test_azure_second_run_changes_nothing(azure_runs: tuple[dict[str, Any], Path, AzureSandbox]) -> None:
    runs, report_dir, _sb = azure_runs
    run, writes = runs["second"]
    assert run.rc == 0, run.stdout + run.stderr
    assert writes == []
    assert changed_tasks(run) == []
    assert run.result(REPORT_TASK)["generated_at"] == runs["first"][0].result(REPORT_TASK)["generated_at"]
    assert report_json(report_dir)["generated_at"] == run.result(REPORT_TASK)["generated_at"]


def test_bad_certificate_stops_before_azure(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    now = pki._now()  # pylint: disable=protected-access
    expired = contoso_pki.pfx("expired.pfx", "GraniteFalls.contoso.com", not_before=now - 400 * pki.DAY,
                              not_after=now - 2 * pki.DAY)
    report_dir = tmp_path / "report"
    run = run_playbook(PLAYBOOK, extra_vars=role_vars(contoso_pki, expired, report_dir, cmg_dns_zone="contoso.com"),
                       env=azure_sandbox.env())
    assert run.rc == 2
    assert azure_sandbox.requests == []
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert message.startswith("the certificate cannot be used for the CMG (1 finding(s)): expired: ")
    assert message.endswith(f" (readiness report: {report_dir})")
    report = report_json(report_dir)
    assert report["status"] == "fail"
    assert [check["id"] for check in report["to_fix"]] == ["certificate.expired"]
    stopped = "not run: the role stopped at 'Stop before any Azure or DNS call when the certificate cannot be used'"
    assert report["skip_reasons"] == {"names": stopped, "availability": stopped, "readiness": stopped, "dns": stopped,
                                      "propagation": stopped}
    assert_no_secret(report_dir, run)


def test_relative_report_dir_is_taken_from_where_ansible_playbook_started(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    launch = tmp_path / "launch"
    launch.mkdir()
    unreadable = tmp_path / "empty.pfx"
    unreadable.write_bytes(b"")
    run = run_playbook(PLAYBOOK, extra_vars=role_vars(contoso_pki, unreadable, Path("rel-report")),
                       env={**azure_sandbox.env(), "PWD": str(launch)})
    assert run.rc == 2
    assert sorted(path.name for path in (launch / "rel-report").iterdir()) == sorted(FILES)
    assert not (PLAYBOOK.parent / "rel-report").exists()
    assert run.result(ROLE + "Stop with the message of the failed step")["msg"].endswith(
        f"(readiness report: {launch / 'rel-report'})")


def test_renewal_with_another_common_name_stops_before_azure(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    previous = tmp_path / "previous.pem"
    previous.write_bytes(pki.pem(pki.make_cert("GraniteFalls.Contoso.com", pki.rsa_key(2048), contoso_pki.issuing).cert))
    renewed = contoso_pki.pfx("renewed.pfx", "GraniteFalls.contoso.com")
    report_dir = tmp_path / "report"
    run = run_playbook(PLAYBOOK, extra_vars=role_vars(contoso_pki, renewed, report_dir, cmg_previous_certificate=str(previous)),
                       env=azure_sandbox.env())
    assert run.rc == 2
    assert azure_sandbox.requests == []
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert message.startswith("the certificate cannot be used for the CMG (1 finding(s)): renewal_cn_mismatch: ")
    assert [check["id"] for check in report_json(report_dir)["to_fix"]] == ["certificate.renewal_cn_mismatch"]


def test_deployment_name_certificate_needs_no_cname(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    certificate = contoso_pki.pfx("deployment.pfx", "GraniteFalls.WestUS.CloudApp.Azure.Com")
    report_dir = tmp_path / "report"
    run = run_playbook(PLAYBOOK, extra_vars=role_vars(contoso_pki, certificate, report_dir), env=azure_sandbox.env())
    assert run.rc == 0, run.stdout + run.stderr
    assert run.status(CNAME_TASK) == "skipped"
    assert azure_sandbox.writes() == []
    reason = "the service name GraniteFalls.WestUS.CloudApp.Azure.Com already is the Azure deployment name: no CNAME is needed"
    assert run.result(REPORT_TASK)["skip_reasons"] == {"dns": reason, "propagation": "the DNS record step did not run"}
    assert run.result(REPORT_TASK)["wizard"]["cname"] == "not needed: the service name is the deployment name"


def test_url_cloud_that_is_us_government(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """AZURE_CLOUD_ENVIRONMENT is the sandbox's URL and its metadata (list form) names AzureUSGovernment: a US Government
    region names the CMG in the Government domains in every step, and the CNAME points there."""
    azure_sandbox.cloud_name = "AzureUSGovernment"
    azure_sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    extra = role_vars(contoso_pki, contoso_pki.pfx("gov.pfx", "GraniteFalls.contoso.com"), tmp_path / "report",
                      cmg_region="USGov Virginia", cmg_dns_zone="contoso.com", cmg_wait_for_dns=False)
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert run.rc == 0, run.stdout + run.stderr
    gov = "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net"
    assert run.result(ROLE + "Check the CMG names in Azure")["names"]["deployment_name"] == gov
    assert run.result(CNAME_TASK)["record"]["target"] == gov
    assert run.result(REPORT_TASK)["wizard"]["deployment_name"] == gov


def test_bad_tsig_algorithm_fails_before_any_call(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    extra = role_vars(contoso_pki, contoso_pki.pfx("alg.pfx", "GraniteFalls.contoso.test"), tmp_path / "report",
                      cmg_dns_provider="rfc2136", cmg_dns_server="127.0.0.1", cmg_dns_key_algorithm="hmac-sha999")
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert run.rc == 2
    assert "value of cmg_dns_key_algorithm must be one of: hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, " \
           "hmac-sha1, hmac-md5, got: hmac-sha999" in run.stdout
    assert azure_sandbox.requests == [] and not (tmp_path / "report").exists()


# ------------------------------------------------------------------------------------------------
# RFC 2136 on BIND, with propagation
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    with running_named(("contoso.test",)) as server:
        yield server


def test_rfc2136_creates_waits_and_is_idempotent(azure_sandbox: AzureSandbox, bind: BindServer, contoso_pki: Pki,
                                                 tmp_path: Path) -> None:
    certificate = contoso_pki.pfx("granitefalls-test.pfx", "GraniteFalls.contoso.test")
    report_dir = tmp_path / "report"
    extra = role_vars(contoso_pki, certificate, report_dir, cmg_dns_provider="rfc2136", cmg_dns_zone="contoso.test",
                      cmg_dns_server=bind.host, cmg_dns_port=bind.port, cmg_dns_key_name=bind.key_name,
                      cmg_dns_key_secret=bind.key_secret, cmg_dns_nameservers=[bind.address], cmg_dns_wait_timeout=30)
    first = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert first.rc == 0, first.stdout + first.stderr
    assert changed_tasks(first) == [CNAME_TASK, REPORT_TASK]
    assert answered_target(NameServer(bind.host, bind.host, bind.port), "granitefalls.contoso.test", 2) == TARGET
    report = first.result(REPORT_TASK)
    assert report["status"] == "pass"
    assert report["skip_reasons"] == {}
    propagation = [check for check in report["checks"] if check["id"] == "propagation.servers"]
    assert [(check["status"], check["message"]) for check in propagation] == [("pass", f"answered by {bind.address}")]

    second = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert second.rc == 0, second.stdout + second.stderr
    assert changed_tasks(second) == []
    assert azure_sandbox.writes() == []
    assert_no_secret(report_dir, first, second, secrets=(pki.PASSWORD, bind.key_secret))


# ------------------------------------------------------------------------------------------------
# cmg_name_check_method: dns once the CMG exists (its names resolve)
# ------------------------------------------------------------------------------------------------

DNS_METHOD_PLAY = """\
- name: Prepare with the DNS name check against BIND
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    configmgr.cmg.cmg_name_available:
      nameservers: ["{address}"]
  roles:
    - role: configmgr.cmg.prepare
"""


def test_dns_method_still_creates_the_cname_when_the_cmg_names_resolve(contoso_pki: Pki, tmp_path: Path) -> None:
    certificate = contoso_pki.pfx("granitefalls-dns.pfx", "GraniteFalls.contoso.test")
    report_dir = tmp_path / "report"
    with running_named(("contoso.test", "cloudapp.azure.com", "vault.azure.net")) as server:
        keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
        update = dns.update.UpdateMessage("cloudapp.azure.com", keyring=keyring, keyalgorithm=server.key_algorithm)
        update.add("granitefalls.westus", 300, "A", "203.0.113.7")
        assert dns.query.tcp(update, server.host, port=server.port, timeout=5).rcode() == 0
        extra = role_vars(contoso_pki, certificate, report_dir, cmg_name_check_method="dns", cmg_dns_provider="rfc2136",
                          cmg_dns_zone="contoso.test", cmg_dns_server=server.host, cmg_dns_port=server.port,
                          cmg_dns_key_name=server.key_name, cmg_dns_key_secret=server.key_secret, cmg_wait_for_dns=False)
        run = run_playbook(DNS_METHOD_PLAY.format(address=server.address), extra_vars=extra)
        target = answered_target(NameServer(server.host, server.host, server.port), "granitefalls.contoso.test", 2)
    assert run.status(ROLE + "Check the CMG names in Azure") == "ok", run.stdout
    assert run.result(ROLE + "Check the CMG names in Azure")["resources"]["dns_label"]["status"] == "taken"
    assert run.result(CNAME_TASK)["changed"] is True, run.stdout
    assert target == TARGET
    # The taken name stays a failure of the report (the DNS method cannot tell it is ours), but the CNAME exists.
    assert run.rc == 2
    report = report_json(report_dir)
    assert run.result(REPORT_TASK)["status"] == report["status"] == "fail"
    assert report["skip_reasons"] == {
        "readiness": "cmg_name_check_method is dns: no Azure credential, so providers and quota were not read",
        "propagation": "cmg_wait_for_dns is false"}
    assert {check["id"]: check["status"] for check in report["checks"]} == {
        "certificate.read": "pass", "certificate.chain_enterprise": "pass", "names.derived": "pass",
        "availability.dns_label": "fail", "availability.key_vault": "warn", "readiness.skipped": "skip",
        "dns.record": "pass", "propagation.skipped": "skip"}
