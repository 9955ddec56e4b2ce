# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/prepare.yml end to end: the sandbox's Azure (names, Azure DNS with a contoso.com zone) and BIND (RFC 2136).

Each scenario runs the real playbook through ansible-playbook with the AZURE_* environment of the sandbox and
asserts on the task results, on what reached Azure or BIND, and on the report files.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import sys
from pathlib import Path
from typing import Any, Iterator

import dns.query
import dns.tsigkeyring
import dns.update
import pytest
from junitparser import JUnitXml

from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer, answered_target
from tests.support import pki
from tests.support.ansible import BIN, COLLECTIONS, PlaybookRun, run_playbook
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
    assert run.result(CNAME_TASK)["results"][0]["diff"]["after"]["target"] == TARGET  # one record: one loop item
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
    assert message.startswith("the certificate has 1 finding(s) at error level or worse: expired: ")
    assert message.endswith(f" (readiness report: {report_dir})")
    report = report_json(report_dir)
    assert report["status"] == "fail"
    assert [(check["id"], check["status"]) for check in report["to_fix"]] == [
        ("certificate.expired", "fail"), ("names.not_run", "not_run"), ("readiness.not_run", "not_run"),
        ("availability.not_run", "not_run"), ("dns.not_run", "not_run"), ("propagation.not_run", "not_run")]
    stopped = "not run: the role stopped at 'Validate the CMG server authentication certificate'"
    assert report["not_run"] == {"names": stopped, "readiness": stopped, "availability": stopped, "dns": stopped,
                                 "propagation": stopped}
    assert report["skip_reasons"] == {}
    assert_no_secret(report_dir, run)


def test_relative_paths_are_taken_from_where_ansible_playbook_started(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """Certificate, CA bundle, previous certificate and report directory given relative to the launch directory,
    with PWD naming another directory (a wrapper script's cd does not update it): all four are found there."""
    azure_sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    launch = tmp_path / "launch"
    (launch / "certs").mkdir(parents=True)
    (launch / "certs" / "GraniteFalls.pfx").write_bytes(contoso_pki.pfx("rel.pfx", "GraniteFalls.contoso.com").read_bytes())
    (launch / "certs" / "ca.pem").write_bytes(contoso_pki.ca_bundle.read_bytes())
    (launch / "certs" / "previous.pem").write_bytes(
        pki.pem(pki.make_cert("GraniteFalls.contoso.com", pki.rsa_key(2048), contoso_pki.issuing).cert))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    extra = {"cmg_certificate_path": "certs/GraniteFalls.pfx", "cmg_certificate_password": pki.PASSWORD,
             "cmg_ca_bundle": "certs/ca.pem", "cmg_previous_certificate": "certs/previous.pem", "cmg_region": "West US",
             "cmg_report_dir": "rel-report", "cmg_dns_zone": "contoso.com", "cmg_dns_resource_group": "rg-dns",
             "cmg_wait_for_dns": False}
    run = run_playbook(PLAYBOOK, extra_vars=extra, env={**azure_sandbox.env(), "PWD": str(elsewhere)}, cwd=launch)
    assert run.rc == 0, run.stdout + run.stderr
    assert sorted(path.name for path in (launch / "rel-report").iterdir()) == sorted(FILES)
    assert not (elsewhere / "rel-report").exists() and not (PLAYBOOK.parent / "rel-report").exists()
    report = report_json(launch / "rel-report")
    assert report["status"] == "pass"
    assert report["steps"]["certificate"]["chain"]["trust"] == "enterprise"


def test_relative_trust_store_is_taken_from_where_ansible_playbook_started(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """cmg_trust is a path too (or certifi/system): a relative one is found in the launch directory, not in the
    installed collection's folder where the module runs."""
    azure_sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    launch = tmp_path / "launch"
    (launch / "certs").mkdir(parents=True)
    (launch / "certs" / "GraniteFalls.pfx").write_bytes(contoso_pki.pfx("trust.pfx", "GraniteFalls.contoso.com").read_bytes())
    (launch / "certs" / "roots.pem").write_bytes(pki.pem(contoso_pki.root.cert))
    extra = {"cmg_certificate_path": "certs/GraniteFalls.pfx", "cmg_certificate_password": pki.PASSWORD,
             "cmg_trust": "certs/roots.pem", "cmg_region": "West US", "cmg_report_dir": "report",
             "cmg_dns_zone": "contoso.com", "cmg_dns_resource_group": "rg-dns", "cmg_wait_for_dns": False}
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env(), cwd=launch)
    assert run.rc == 0, run.stdout + run.stderr
    report = report_json(launch / "report")
    assert report["status"] == "pass"
    assert report["steps"]["certificate"]["chain"]["trust"] == "public"


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
    assert message.startswith("the certificate has 1 finding(s) at error level or worse: renewal_cn_mismatch: ")
    assert [check["id"] for check in report_json(report_dir)["to_fix"]][0] == "certificate.renewal_cn_mismatch"


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
    assert run.result(CNAME_TASK)["results"][0]["record"]["target"] == gov
    assert run.result(REPORT_TASK)["wizard"]["deployment_name"] == gov


def test_bad_tsig_algorithm_fails_before_any_call(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """The role's first task checks the inputs: one line naming the role variable and the choices (from the code's
    own constant), no dump of the argument spec, a FAIL report, no call."""
    extra = role_vars(contoso_pki, contoso_pki.pfx("alg.pfx", "GraniteFalls.contoso.test"), tmp_path / "report",
                      cmg_dns_provider="rfc2136", cmg_dns_server="127.0.0.1", cmg_dns_key_algorithm="hmac-sha999")
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert run.rc == 2
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert message == ("cmg_dns_key_algorithm must be one of hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, "
                       f"hmac-sha1, hmac-md5, gss-tsig, not 'hmac-sha999' (readiness report: {tmp_path / 'report'})")
    assert "argument_spec_data" not in run.stdout and "cmg_dns_wait_timeout" not in run.stdout
    assert azure_sandbox.requests == []
    assert_failed_run(run, tmp_path / "report", "run")


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("cmg_dns_port", "fifty-three", "cmg_dns_port must be a whole number, not 'fifty-three'"),
    ("cmg_dns_wait_timeout", -5, "cmg_dns_wait_timeout must be between 0 and 86400, not -5"),
    ("cmg_wait_for_dns", "maybe", "cmg_wait_for_dns must be true or false, not 'maybe'"),
])
def test_bad_whole_number_or_boolean_fails_in_one_line(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path,
                                                       name: str, value: Any, problem: str) -> None:
    """A whole-number or true/false input of the wrong type or range is one line from the role's input check, not
    Ansible's dump of the argument spec; a FAIL report, no call."""
    extra = role_vars(contoso_pki, contoso_pki.pfx("num.pfx", "GraniteFalls.contoso.test"), tmp_path / "report",
                      **{name: value})
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert run.rc == 2
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert message == f"{problem} (readiness report: {tmp_path / 'report'})"
    assert "argument_spec_data" not in run.stdout
    assert azure_sandbox.requests == []
    assert_failed_run(run, tmp_path / "report", "run")


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


# ------------------------------------------------------------------------------------------------
# Several records in one run (cmg_dns_records): the public zone in Azure DNS, the internal one on BIND
# ------------------------------------------------------------------------------------------------


def test_public_and_internal_records_in_one_run(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """Issue 13: one run writes the public CNAME in Azure DNS and the internal one on an RFC 2136 server, each its own
    row of the report (and a resolver row); a failing record leaves the others written; a re-run changes nothing."""
    azure_sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    certificate = contoso_pki.pfx("granitefalls-split.pfx", "GraniteFalls.contoso.com")
    report_dir = tmp_path / "report"
    with running_named(("contoso.com",)) as internal:
        # the sandbox's Azure name servers do not resolve offline: the public record is not waited for
        public = {"name": "public", "provider": "azure_dns", "zone": "contoso.com", "resource_group": "rg-dns",
                  "wait": False}
        inside = {"name": "internal", "provider": "rfc2136", "server": internal.host, "port": internal.port,
                  "key_name": internal.key_name, "key_secret": internal.key_secret, "nameservers": [internal.address],
                  "resolvers": [internal.address]}
        broken = dict(inside, name="broken", key_secret="c2VjcmV0LXRoYXQtaXMtd3Jvbmc=")
        failing = run_playbook(PLAYBOOK, env=azure_sandbox.env(), extra_vars=role_vars(
            contoso_pki, certificate, report_dir, cmg_dns_records=[broken, public, inside], cmg_dns_wait_timeout=10))
        failing_report = report_json(report_dir)
        internal_target = answered_target(NameServer(internal.host, internal.host, internal.port),
                                          "granitefalls.contoso.com", 2)
        extra = role_vars(contoso_pki, certificate, report_dir, cmg_dns_records=[public, inside], cmg_dns_wait_timeout=10)
        first = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
        azure_sandbox.clear_requests()
        second = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    # the broken record fails; the two after it are written all the same, and the report says which is which
    assert failing.rc != 0
    assert [item["changed"] for item in failing.result(CNAME_TASK)["results"]] == [False, True, True]
    assert internal_target == TARGET
    stored = azure_sandbox.state["dns"]["zones"]["rg-dns/contoso.com"]["records"]["granitefalls/CNAME"]
    assert stored["properties"]["CNAMERecord"] == {"cname": TARGET}
    statuses = {check["id"]: check["status"] for check in failing_report["checks"]}
    assert (statuses["dns.record.broken"], statuses["dns.record.public"], statuses["dns.record.internal"]) == (
        "fail", "pass", "pass")
    assert failing_report["status"] == "fail"

    assert first.rc == 0, first.stdout + first.stderr
    report = report_json(report_dir)
    rows = {check["id"]: (check["status"], check["message"]) for check in report["checks"]}
    assert rows["dns.record.public"][0] == rows["dns.record.internal"][0] == "pass"
    assert "zone contoso.com, azure_dns" in rows["dns.record.public"][1]
    assert "rfc2136" in rows["dns.record.internal"][1]
    assert rows["propagation.servers.internal"] == ("pass", f"answered by {internal.address}")
    assert rows["propagation.resolvers.internal"] == ("pass", f"answered by {internal.address}")
    assert rows["propagation.servers.public"] == ("skip", "wait is false")
    assert report["status"] == "pass"

    assert second.rc == 0, second.stdout + second.stderr
    assert changed_tasks(second) == []
    assert azure_sandbox.writes() == []
    assert_no_secret(report_dir, failing, first, second, secrets=(pki.PASSWORD, internal.key_secret))
# The verdict never lies: a failure injected into each step gives rc != 0, status fail, JUnit failures
# ------------------------------------------------------------------------------------------------


def assert_failed_run(run: PlaybookRun, report_dir: Path, failed_step: str, name: str = "cmg-readiness") -> dict[str, Any]:
    """rc != 0; the JSON says fail with a failed check in ``failed_step``; JUnit (junitparser) counts failures;
    no step after the failed one passes or is skipped."""
    assert run.rc != 0, run.stdout
    report = json.loads((report_dir / f"{name}.json").read_text(encoding="utf-8"))
    assert report["status"] == "fail"
    statuses = {}
    for check in report["checks"]:
        statuses.setdefault(check["step"], []).append(check["status"])
    assert "fail" in statuses[failed_step], report["checks"]
    order = ["run", "certificate", "names", "readiness", "availability", "dns", "propagation"]
    for step in order[order.index(failed_step) + 1:]:
        assert set(statuses.get(step, ["not_run"])) == {"not_run"}, (step, report["checks"])
    junit = JUnitXml.fromfile(str(report_dir / f"{name}.junit.xml"))
    expected = sum(1 for check in report["checks"] if check["status"] in ("fail", "not_run"))
    assert junit.failures == expected >= 1
    failed_cases = [case.name for suite in junit for case in suite
                    if any(type(result).__name__ == "Failure" for result in case.result)]
    assert len(failed_cases) == expected
    markdown = (report_dir / f"{name}.md").read_text(encoding="utf-8")
    assert "**Result: FAIL**" in markdown
    return report


def zone_seed(*records: dict[str, Any]) -> dict[str, Any]:
    return {"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns", "records": list(records)}]}}


def azure_vars(contoso_pki: Pki, report_dir: Path, **extra: Any) -> dict[str, Any]:
    return role_vars(contoso_pki, contoso_pki.pfx("verdict.pfx", "GraniteFalls.contoso.com"), report_dir,
                     cmg_dns_zone="contoso.com", cmg_dns_resource_group="rg-dns", cmg_wait_for_dns=False, **extra)


@pytest.mark.parametrize("case", ["bad_input", "no_certificate", "unreadable_certificate", "set_fact_raises",
                                  "azure_name_check_error", "azure_dns_error", "dns_server_error"])
def test_every_step_failure_gives_fail(case: str, azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    azure_sandbox.seed(zone_seed())
    report_dir = tmp_path / "report"
    extra = azure_vars(contoso_pki, report_dir)
    failed_step = {"bad_input": "run", "no_certificate": "run", "unreadable_certificate": "certificate",
                   "set_fact_raises": "names", "azure_name_check_error": "availability", "azure_dns_error": "dns",
                   "dns_server_error": "dns"}[case]
    if case == "bad_input":
        extra["cmg_dns_on_conflict"] = "overwrite"
    elif case == "no_certificate":
        extra["cmg_certificate_path"] = ""
    elif case == "unreadable_certificate":
        (tmp_path / "empty.pfx").write_bytes(b"")
        extra["cmg_certificate_path"] = str(tmp_path / "empty.pfx")
    elif case == "set_fact_raises":
        extra["cmg_service_name"] = "Granite Falls.contoso.com"  # the names filter raises inside set_fact
        extra["cmg_certificate_path"] = ""
        run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env(), tags=["names", "availability", "dns"])
        assert_failed_run(run, report_dir, failed_step, name="cmg-readiness-partial")
        assert azure_sandbox.writes() == []
        return
    elif case == "azure_name_check_error":
        azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 403, times=20)
    elif case == "azure_dns_error":
        azure_sandbox.fault("PUT", r".*/dnsZones/contoso\.com/CNAME/granitefalls", 403, times=20)
    elif case == "dns_server_error":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        extra.update(cmg_dns_provider="rfc2136", cmg_dns_server="127.0.0.1", cmg_dns_port=closed,
                     cmg_dns_key_name="cmg-key", cmg_dns_key_secret=base64.b64encode(b"k" * 32).decode())
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    report = assert_failed_run(run, report_dir, failed_step)
    if case == "bad_input":
        assert run.result(ROLE + "Stop with the message of the failed step")["msg"].startswith(
            "cmg_dns_on_conflict must be one of fail, replace, not 'overwrite' (readiness report: ")
        assert azure_sandbox.requests == []
    if failed_step in ("run", "certificate"):
        assert azure_sandbox.requests == []
    if case == "azure_dns_error":
        assert report["checks"][-1]["id"] == "propagation.not_run"
    assert_no_secret(report_dir, run)


def test_written_cname_whose_name_servers_do_not_resolve(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """Issue 9 point 2: the PUT is sent, then the zone's name servers (ns1-01.azure-dns.com...) do not resolve.
    The run fails; the propagation row says why it did not run (never the fixed "cmg_wait_for_dns is false" skip);
    the message names cmg_dns_nameservers, not the module's option."""
    azure_sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns",
                                          "nameServers": ["ns1.unresolvable.invalid", "ns2.unresolvable.invalid"]}]}})
    report_dir = tmp_path / "report"
    extra = {**azure_vars(contoso_pki, report_dir), "cmg_wait_for_dns": True, "cmg_dns_wait_timeout": 2}
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert [request.method for request in azure_sandbox.writes()] == ["PUT"]
    report = assert_failed_run(run, report_dir, "dns" if "propagation" not in
                               json.loads((report_dir / "cmg-readiness.json").read_text())["steps"].get("dns", {})
                               else "propagation")
    propagation = [check for check in report["checks"] if check["step"] == "propagation"]
    assert [check["status"] for check in propagation] in (["fail"], ["not_run"])
    assert all("cmg_wait_for_dns is false" not in check["message"] for check in propagation)
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert "nameservers option" not in message
    assert "cmg_dns_nameservers" in message


def test_azure_domain_certificate_with_a_zone_skips_the_cname(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    azure_sandbox.seed(zone_seed())
    report_dir = tmp_path / "report"
    extra = role_vars(contoso_pki, contoso_pki.pfx("azure.pfx", "GraniteFalls.WestUS.CloudApp.Azure.Com"), report_dir,
                      cmg_dns_zone="contoso.com", cmg_dns_resource_group="rg-dns")
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert run.rc == 0, run.stdout + run.stderr
    assert azure_sandbox.writes() == []
    reason = ("the service name GraniteFalls.WestUS.CloudApp.Azure.Com already is the Azure deployment name: "
              "no CNAME is needed (cmg_dns_zone contoso.com is not used)")
    assert run.result(REPORT_TASK)["skip_reasons"] == {"dns": reason, "propagation": "the DNS record step did not run"}
    assert run.result(REPORT_TASK)["status"] == "pass"


def test_check_mode_says_would_create(azure_runs: tuple[dict[str, Any], Path, AzureSandbox]) -> None:
    runs, _report_dir, _sb = azure_runs
    run, _writes = runs["check"]
    report = run.result(REPORT_TASK)
    assert report["status"] == "would_change"
    assert {check["id"]: check["status"] for check in report["checks"]}["dns.record"] == "would_create"
    assert "| WOULD CREATE | DNS record | Service name CNAME |" in report["diff"]["after"]
    assert "**Result: WOULD CHANGE**" in report["diff"]["after"]
    assert "PASS | DNS record" not in report["diff"]["after"]


def test_no_azure_credential_names_what_was_tried(contoso_pki: Pki, tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    extra = azure_vars(contoso_pki, report_dir)
    run = run_playbook(PLAYBOOK, extra_vars=extra, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert_failed_run(run, report_dir, "readiness")  # the first Azure call of the run: the readiness checks
    assert "auth_source" not in message and "set subscription_id" not in message
    for word in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_TENANT", "cmg_name_check_method: dns"):
        assert word in message, message


def test_unknown_trust_stops_before_any_write(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """A PFX without its intermediates and no cmg_ca_bundle: trust unknown stops the run by default."""
    azure_sandbox.seed(zone_seed())
    leaf = pki.make_cert("GraniteFalls.contoso.com", pki.rsa_key(2048), contoso_pki.issuing)
    lonely = tmp_path / "lonely.pfx"
    lonely.write_bytes(pki.pfx(leaf, ()))
    report_dir = tmp_path / "report"
    extra = azure_vars(contoso_pki, report_dir, cmg_certificate_path=str(lonely), cmg_ca_bundle="")
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env())
    assert_failed_run(run, report_dir, "certificate")
    assert azure_sandbox.requests == []
    assert "cmg_ca_bundle" in run.result(ROLE + "Stop with the message of the failed step")["msg"]
    go_on = run_playbook(PLAYBOOK, extra_vars={**extra, "cmg_unknown_trust": "continue"}, env=azure_sandbox.env())
    assert go_on.rc == 0, go_on.stdout
    assert [request.method for request in azure_sandbox.writes()] == ["PUT"]
    assert report_json(report_dir)["status"] == "warn"


def test_dns_on_conflict_replace_repoints_the_cname(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    old = "oldcmg.westus.cloudapp.azure.com"
    azure_sandbox.seed(zone_seed({"name": "granitefalls", "type": "CNAME",
                                  "properties": {"TTL": 3600, "CNAMERecord": {"cname": old}}}))
    report_dir = tmp_path / "report"
    refused = run_playbook(PLAYBOOK, extra_vars=azure_vars(contoso_pki, report_dir), env=azure_sandbox.env())
    assert_failed_run(refused, report_dir, "dns")
    assert azure_sandbox.writes() == []
    assert "cmg_dns_on_conflict" in refused.result(ROLE + "Stop with the message of the failed step")["msg"]
    moved = run_playbook(PLAYBOOK, extra_vars=azure_vars(contoso_pki, report_dir, cmg_dns_on_conflict="replace"),
                         env=azure_sandbox.env())
    assert moved.rc == 0, moved.stdout
    assert moved.result(CNAME_TASK)["results"][0]["record"]["target"] == TARGET
    assert report_json(report_dir)["status"] == "pass"


def test_unknown_region_names_three_close_regions_once(
        azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    run = run_playbook(PLAYBOOK, extra_vars=azure_vars(contoso_pki, report_dir, cmg_region="West Uss"),
                       env=azure_sandbox.env())
    assert_failed_run(run, report_dir, "run")
    message = run.result(ROLE + "Stop with the message of the failed step")["msg"]
    assert message.startswith("cmg_region: unknown AzureCloud region 'West Uss'; closest: westus, ")
    assert message.count(",") <= 4
    assert "southafricanorth" not in run.stdout + run.stderr
    assert azure_sandbox.requests == []


def test_partial_run_before_the_certificate_exists(azure_sandbox: AzureSandbox, contoso_pki: Pki,
                                                   tmp_path: Path) -> None:
    """User guide step 2: --tags availability with cmg_service_name, the vault password not loaded yet; the full
    report of an earlier run is left alone, the partial run writes cmg-readiness-partial.*."""
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    full = report_dir / "cmg-readiness.json"
    full.write_text('{"status": "pass", "generated_at": "2026-01-01T00:00:00Z"}\n', encoding="utf-8")
    extra = {"cmg_certificate_path": "/secure/GraniteFalls.pfx", "cmg_certificate_password": "{{ vault_pfx_password }}",
             "cmg_region": "westus", "cmg_dns_zone": "contoso.com", "cmg_report_dir": str(report_dir),
             "cmg_service_name": "GraniteFalls.contoso.com"}
    run = run_playbook(PLAYBOOK, extra_vars=extra, env=azure_sandbox.env(), tags=["availability"])
    assert run.rc == 0, run.stdout + run.stderr
    assert full.read_text(encoding="utf-8") == '{"status": "pass", "generated_at": "2026-01-01T00:00:00Z"}\n'
    partial = json.loads((report_dir / "cmg-readiness-partial.json").read_text(encoding="utf-8"))
    assert partial["status"] == "pass"
    assert {check["id"]: check["status"] for check in partial["checks"]}["certificate.skipped"] == "skip"
    assert azure_sandbox.writes() == []


def test_relative_paths_through_ansible_runner(azure_sandbox: AzureSandbox, contoso_pki: Pki, tmp_path: Path) -> None:
    """As AWX runs a job: ansible-runner starts ansible-playbook in the project directory, which holds the files."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    azure_sandbox.seed(zone_seed())
    project = tmp_path / "runner" / "project"
    (project / "files").mkdir(parents=True)
    (project / "job.yml").write_text("- name: CMG\n  ansible.builtin.import_playbook: configmgr.cmg.prepare\n",
                                     encoding="utf-8")
    (project / "files" / "cmg.pfx").write_bytes(contoso_pki.pfx("runner.pfx", "GraniteFalls.contoso.com").read_bytes())
    (project / "files" / "ca.pem").write_bytes(contoso_pki.ca_bundle.read_bytes())
    extravars = {"cmg_certificate_path": "files/cmg.pfx", "cmg_certificate_password": pki.PASSWORD,
                 "cmg_ca_bundle": "files/ca.pem", "cmg_region": "westus", "cmg_dns_zone": "contoso.com",
                 "cmg_dns_resource_group": "rg-dns", "cmg_wait_for_dns": False, "cmg_report_dir": "reports"}
    envvars = {**azure_sandbox.env(), "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PWD": str(tmp_path)}
    runner = ansible_runner.run(private_data_dir=str(tmp_path / "runner"), playbook="job.yml",
                                inventory=f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}",
                                envvars=envvars, extravars=extravars, quiet=True)
    assert (runner.status, runner.rc) == ("successful", 0), runner.stdout.read()
    assert sorted(path.name for path in (project / "reports").iterdir()) == sorted(FILES)
    assert report_json(project / "reports")["status"] == "pass"
