# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the readiness report: checks, the verdict, scrubbing, rendering, what to write."""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from junitparser import Failure, JUnitXml, Skipped

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from ansible_collections.configmgr.cmg.plugins.module_utils import _certificate, _report, _report_model
from ansible_collections.configmgr.cmg.plugins.module_utils._naming import derive_names
from ansible_collections.configmgr.cmg.plugins.module_utils._report import (
    FILES, ReportError, Step, build_report, plan_report, register_step, render_json, render_junit, render_markdown,
    report_name, scrub, stop_message, verdict)
from tests.support.pki import CASES, Corpus

SECRET = "Pfx-Pa55word-never-written"
KEY_SECRET = "dHNpZy1zZWNyZXQtbmV2ZXItd3JpdHRlbg=="
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
NOW = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)
LATER = datetime(2026, 2, 1, 8, 30, 0, tzinfo=timezone.utc)


def certificate_result(findings: list[dict[str, str]] | None = None) -> dict:
    """A cmg_cert_validate result, as registered by the role (with the masked invocation)."""
    findings = findings or []
    return {
        "changed": False,
        "valid": not any(f["severity"] == "error" for f in findings),
        "findings": findings,
        "certificate": {
            "common_name": "GraniteFalls.contoso.com", "thumbprint": "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
            "not_after": "2027-01-31T12:00:00Z", "days_remaining": 365, "key_type": "RSA", "key_size": 2048,
            "has_private_key": True, "private_key_matches": True,
        },
        "chain": {"trust": "enterprise", "complete": True, "subjects": ["CN=Contoso Issuing CA"]},
        "service_name": "GraniteFalls.contoso.com",
        "invocation": {"module_args": {"path": "/tmp/cmg.pfx", "password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}},
    }


def availability_result(**statuses: str) -> dict:
    """A cmg_name_available result with the given status per check."""
    resources = {check: {"name": "granitefalls", "status": status, "reason": "", "message": f"{check} is {status}",
                         "resource_id": None}
                 for check, status in statuses.items()}
    return {"changed": False, "available": all(s in ("available", "owned") for s in statuses.values()),
            "resources": resources, "auth_source_used": "env", "client_secret": SECRET}


def dns_result(propagation: dict | None = None, changed: bool = True) -> dict:
    """A cmg_cname result."""
    result = {
        "changed": changed,
        "msg": "created" if changed else "up to date",
        "record": {"fqdn": "GraniteFalls.contoso.com", "target": "granitefalls.westus.cloudapp.azure.com",
                   "ttl": 3600, "etag": "etag-1", "zone": "contoso.com", "provider": "azure_dns"},
        "diff": {"before": {}, "after": {"target": "granitefalls.westus.cloudapp.azure.com"}},
        "key_secret": KEY_SECRET,
    }
    if propagation is not None:
        result["propagation"] = propagation
    return result


TARGET_NAME = "granitefalls.westus.cloudapp.azure.com"
NAMES = derive_names("GraniteFalls.contoso.com", region="West US", dns_zone="contoso.com")
OK_PROPAGATION = {"ns1.contoso.com": {"answer": "granitefalls.westus.cloudapp.azure.com", "ok": True},
                  "ns2.contoso.com": {"answer": "granitefalls.westus.cloudapp.azure.com", "ok": True}}


def full_results(**overrides: object) -> dict:
    """Every step ran and passed."""
    results = {
        "certificate": certificate_result(),
        "names": NAMES,
        "availability": availability_result(dns_label="available", key_vault="owned"),
        "dns": dns_result(OK_PROPAGATION),
    }
    results.update(overrides)
    return results


def counts(**given: int) -> dict[str, int]:
    return {status: given.get(status, 0) for status in _report.CHECK_STATUSES}


def statuses(report: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in report["checks"]}


# ---------------------------------------------------------------------------------------------
# checks


def test_all_steps_pass() -> None:
    report = build_report(full_results())
    assert statuses(report) == {
        "certificate.read": "pass",
        "names.derived": "pass",
        "availability.dns_label": "pass",
        "availability.key_vault": "pass",
        "dns.record": "pass",
        "propagation.servers": "pass",
    }
    assert report["status"] == "pass"
    assert report["counts"] == counts(**{"pass": 6})
    assert report["to_fix"] == []
    assert report["skip_reasons"] == {}
    assert report["wizard"] == {
        "azure_environment": "AzureCloud",
        "region": "West US (westus)",
        "service_name": "GraniteFalls.contoso.com",
        "deployment_name": "granitefalls.westus.cloudapp.azure.com",
        "cname": "GraniteFalls.contoso.com CNAME granitefalls.westus.cloudapp.azure.com",
        "certificate_thumbprint": "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
        "certificate_expires": "2027-01-31T12:00:00Z",
    }
    by_id = {check["id"]: check for check in report["checks"]}
    assert by_id["dns.record"]["message"] == ("GraniteFalls.contoso.com CNAME granitefalls.westus.cloudapp.azure.com "
                                              "(TTL 3600, zone contoso.com, azure_dns)")
    assert by_id["propagation.servers"]["message"] == "answered by ns1.contoso.com, ns2.contoso.com"
    assert by_id["certificate.read"]["message"] == (
        "CN=GraniteFalls.contoso.com, thumbprint 0A1B2C3D4E5F60718293A4B5C6D7E8F901234567, "
        "expires 2027-01-31T12:00:00Z, RSA 2048, chain trust: enterprise")


def test_certificate_findings_become_checks() -> None:
    findings = [
        {"code": "expired", "severity": "error", "message": "the certificate expired: issue a new one"},
        {"code": "chain_incomplete", "severity": "warning", "message": "add the intermediates to the PFX"},
        {"code": "enterprise_root", "severity": "info", "message": "internet clients need the root"},
    ]
    report = build_report({"certificate": certificate_result(findings)},
                          {"names": "the certificate failed", "availability": "the certificate failed",
                           "dns": "the certificate failed"})
    assert statuses(report) == {
        "certificate.read": "pass",
        "certificate.expired": "fail",
        "certificate.chain_incomplete": "warn",
        "certificate.enterprise_root": "pass",
        "names.skipped": "skip",
        "availability.skipped": "skip",
        "dns.skipped": "skip",
        "propagation.skipped": "skip",
    }
    assert report["status"] == "fail"
    assert [check["id"] for check in report["to_fix"]] == ["certificate.expired", "certificate.chain_incomplete"]
    assert report["skip_reasons"] == {"names": "the certificate failed", "availability": "the certificate failed",
                                      "dns": "the certificate failed", "propagation": "the DNS record step did not run"}


def test_unreadable_certificate_is_one_failure() -> None:
    report = build_report({"certificate": {"failed": True, "msg": "wrong password for /tmp/cmg.pfx"}})
    assert statuses(report)["certificate.read"] == "fail"
    assert report["checks"][0]["message"] == "wrong password for /tmp/cmg.pfx"
    assert report["counts"] == counts(fail=1, skip=4)
    assert report["skip_reasons"]["names"] == _report.DEFAULT_SKIP_REASON


def test_name_problems_and_taken_names() -> None:
    names = derive_names("Granite-Falls.contoso.com", region="westus", content_enabled=True)
    report = build_report(full_results(
        names=names,
        availability=availability_result(dns_label="available", key_vault="soft_deleted", storage_account="taken"),
    ))
    result = statuses(report)
    assert result["names.storage_account"] == "fail"
    assert result["availability.key_vault"] == "fail"
    assert result["availability.storage_account"] == "fail"
    assert result["availability.dns_label"] == "pass"
    assert report["status"] == "fail"


def test_dns_probe_availability_is_a_warning() -> None:
    availability = availability_result(dns_label="available")
    availability["method"] = "dns"
    report = build_report(full_results(availability=availability))
    assert statuses(report)["availability.dns_label"] == "warn"
    assert report["status"] == "warn"


def test_failed_availability_without_resources() -> None:
    failed = {"failed": True, "msg": "the service principal 00000000 lacks Microsoft.Network/locations/"
                                     "CheckDnsNameAvailability/read"}
    report = build_report(full_results(availability=failed))
    assert statuses(report)["availability.error"] == "fail"
    assert report["to_fix"][0]["message"] == failed["msg"]


def test_propagation_not_complete() -> None:
    propagation = [{"server": "ns1.contoso.com", "answer": "granitefalls.westus.cloudapp.azure.com", "ok": True},
                   {"server": "ns2.contoso.com", "answer": None, "ok": False}]
    dns = dns_result(propagation)
    dns.update(failed=True, msg="timed out after 300 s waiting for ns2.contoso.com")
    report = build_report(full_results(dns=dns))
    assert statuses(report)["dns.record"] == "pass"
    assert statuses(report)["propagation.servers"] == "fail"
    assert report["to_fix"][0]["message"] == "not yet propagated: ns2.contoso.com answers None"


def test_cname_skipped_with_reason() -> None:
    reason = "the service name is already the deployment name: no CNAME is needed"
    report = build_report(full_results(dns={"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}),
                          {"dns": reason})
    assert statuses(report)["dns.skipped"] == "skip"
    assert report["skip_reasons"] == {"dns": reason, "propagation": "the DNS record step did not run"}
    assert report["status"] == "pass"


def test_skip_reason_from_an_ansible_skipped_result() -> None:
    report = build_report(full_results(dns={"changed": False, "skipped": True, "skip_reason": "no zone given"}))
    assert report["skip_reasons"]["dns"] == "no zone given"
    assert report["skip_reasons"]["propagation"] == _report.DEFAULT_SKIP_REASON


def test_wait_disabled_skips_propagation() -> None:
    report = build_report(full_results(dns=dns_result()), {"propagation": "cmg_wait_for_dns is false"})
    assert statuses(report)["propagation.skipped"] == "skip"
    assert report["skip_reasons"] == {"propagation": "cmg_wait_for_dns is false"}


def test_no_cname_needed_in_wizard() -> None:
    names = derive_names("GraniteFalls.WestUS.CloudApp.Azure.Com", region="westus")
    report = build_report({"names": names})
    assert report["wizard"]["cname"] == "not needed: the service name is the deployment name"


def test_unknown_step_is_refused() -> None:
    with pytest.raises(ReportError, match="unknown report step"):
        build_report({"certificates": {}})


# ---------------------------------------------------------------------------------------------
# scrubbing


def test_scrub_drops_secrets_volatile_keys_and_private_keys() -> None:
    value = {
        "password": SECRET, "Key_Secret": KEY_SECRET, "nested": [{"client_secret": SECRET, "pem": PEM_KEY, "ok": 1}],
        "private_key": PEM_KEY, "cmg_certificate_password": SECRET, "has_private_key": True, "changed": True,
        "invocation": {"module_args": {}}, "_ansible_no_log": False, "diff": {}, "name": "kept",
    }
    assert scrub(value) == {"nested": [{"pem": _report.REDACTED, "ok": 1}], "has_private_key": True, "name": "kept"}


def test_build_report_keeps_no_secret_and_no_changed_flag() -> None:
    report = build_report(full_results())
    text = json.dumps(report)
    assert SECRET not in text
    assert KEY_SECRET not in text
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in text
    assert "changed" not in report["steps"]["dns"]
    assert "msg" not in report["steps"]["dns"]


# ---------------------------------------------------------------------------------------------
# rendering


def test_markdown_page() -> None:
    findings = [{"code": "expiring_soon", "severity": "warning", "message": "renew | soon\nplease"}]
    report = build_report(full_results(certificate=certificate_result(findings)), {"propagation": "cmg_wait_for_dns is false"})
    page = render_markdown(report, "2026-01-31T12:00:00Z")
    lines = page.splitlines()
    assert lines[0] == "# CMG readiness: GraniteFalls.contoso.com"
    assert lines[2] == "**Result: WARN** (5 pass, 1 warn, 0 fail, 1 skipped)"
    assert "Generated 2026-01-31T12:00:00Z by configmgr.cmg." in lines
    assert "| Service name (the certificate's common name) | `GraniteFalls.contoso.com` |" in lines
    assert "| Deployment name (shown by the wizard, must match) | `granitefalls.westus.cloudapp.azure.com` |" in lines
    assert "| Region | `West US (westus)` |" in lines
    assert "| WARN | Certificate | Certificate: expiring_soon | renew \\| soon please |" in lines
    assert "1. **WARN** Certificate: expiring_soon: renew | soon\nplease" in page
    assert lines[-1] == "- DNS propagation: cmg_wait_for_dns is false"


def test_junit_file_parses_with_junitparser(tmp_path) -> None:
    findings = [{"code": "sha1_signature", "severity": "error", "message": "reissue with SHA-256"},
                {"code": "expiring_soon", "severity": "warning", "message": "renew within 20 days"}]
    report = build_report({"certificate": certificate_result(findings), "names": NAMES},
                          {"availability": "the certificate is not valid", "dns": "the certificate is not valid"})
    path = tmp_path / "report.junit.xml"
    path.write_text(render_junit(report, "2026-01-31T12:00:00Z"), encoding="utf-8")

    xml = JUnitXml.fromfile(str(path))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (7, 1, 0, 3)
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "configmgr.cmg.readiness"
    assert suite.timestamp == "2026-01-31T12:00:00"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (7, 1, 0, 3)
    cases = {case.name: case for case in suite}
    assert list(cases) == ["certificate.read", "certificate.sha1_signature", "certificate.expiring_soon",
                           "names.derived", "availability.skipped", "dns.skipped", "propagation.skipped"]
    failed = cases["certificate.sha1_signature"]
    assert failed.classname == "cmg.certificate"
    assert [type(result) for result in failed.result] == [Failure]
    assert failed.result[0].message == "reissue with SHA-256"
    assert failed.result[0].text == "Certificate: sha1_signature: reissue with SHA-256"
    assert cases["certificate.expiring_soon"].is_passed
    assert cases["certificate.expiring_soon"].system_out == "WARNING Certificate: expiring_soon: renew within 20 days"
    assert [type(result) for result in cases["dns.skipped"].result] == [Skipped]
    assert cases["dns.skipped"].result[0].message == "the certificate is not valid"
    assert cases["names.derived"].is_passed


# ---------------------------------------------------------------------------------------------
# what to write (the module writes it: tests/integration/test_report.py)


def write_plan(directory, report, now, name=_report.DEFAULT_NAME) -> dict:
    """Write what plan_report says, as the module does when it differs (a test stand-in for atomic_move)."""
    plan = plan_report(str(directory), report, name, now=now)
    if not plan["same"]:
        os.makedirs(directory, exist_ok=True)
        for kind, path in plan["paths"].items():
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(plan["contents"][kind])
    return plan


def read_files(directory) -> dict[str, str]:
    return {kind: (directory / name).read_text(encoding="utf-8") for kind, name in FILES.items()}


def test_plan_is_idempotent_and_keeps_the_timestamp(tmp_path) -> None:
    first = write_plan(tmp_path, build_report(full_results()), NOW)
    assert first["same"] is False
    assert first["before"] == {"json": None, "markdown": None, "junit": None}
    written = read_files(tmp_path)
    assert json.loads(written["json"])["generated_at"] == "2026-01-31T12:00:00Z"
    # A second run whose steps report changed=false and another msg: same content, nothing to write.
    second = write_plan(tmp_path, build_report(full_results(dns=dns_result(OK_PROPAGATION, changed=False))), LATER)
    assert second["same"] is True
    assert second["generated_at"] == "2026-01-31T12:00:00Z"
    assert read_files(tmp_path) == written


def test_a_day_later_the_same_state_writes_nothing(tmp_path) -> None:
    write_plan(tmp_path, build_report(full_results()), NOW)
    written = read_files(tmp_path)
    tomorrow = certificate_result()
    tomorrow["certificate"]["days_remaining"] = 364
    assert write_plan(tmp_path, build_report(full_results(certificate=tomorrow)), LATER)["same"] is True
    assert "days_remaining" not in written["json"]


def test_a_day_later_inside_the_warning_window_writes_nothing(tmp_path, cert_corpus: Corpus) -> None:
    case = next(case for case in CASES if case.name == "expiring_soon")
    today = datetime.now(timezone.utc)

    def validated(now: datetime) -> dict:
        result = _certificate.validate(_certificate.ValidationRequest(
            **cert_corpus.options(case), service_name="cmg.contoso.com", now=now))
        return dict(result, changed=False)

    first = validated(today)
    write_plan(tmp_path, build_report(full_results(certificate=first)), NOW)
    assert "expiring_soon" in read_files(tmp_path)["markdown"]
    tomorrow = validated(today + timedelta(days=1))
    assert tomorrow["certificate"]["days_remaining"] == first["certificate"]["days_remaining"] - 1
    assert write_plan(tmp_path, build_report(full_results(certificate=tomorrow)), LATER)["same"] is True


def test_a_re_run_renders_each_file_once(tmp_path, monkeypatch) -> None:
    calls = []
    for kind, render in list(_report.RENDERERS.items()):
        monkeypatch.setitem(_report.RENDERERS, kind, lambda report, timestamp, kind=kind, render=render:
                            calls.append(kind) or render(report, timestamp))
    write_plan(tmp_path, build_report(full_results()), NOW)
    assert calls == ["json", "markdown", "junit"]
    calls.clear()
    assert write_plan(tmp_path, build_report(full_results()), LATER)["same"] is True
    assert calls == ["json", "markdown", "junit"]
    calls.clear()
    changed = build_report(full_results(availability=availability_result(dns_label="taken")))
    assert write_plan(tmp_path, changed, LATER)["generated_at"] == "2026-02-01T08:30:00Z"
    assert calls == ["json", "markdown", "junit"] * 2


def test_content_change_gets_a_new_timestamp(tmp_path) -> None:
    write_plan(tmp_path, build_report(full_results()), NOW)
    before = read_files(tmp_path)["markdown"]
    changed = build_report(full_results(availability=availability_result(dns_label="taken", key_vault="owned")))
    plan = write_plan(tmp_path, changed, LATER)
    assert plan["same"] is False
    assert plan["generated_at"] == "2026-02-01T08:30:00Z"
    assert plan["before"]["markdown"] == before
    assert "**Result: FAIL**" in plan["contents"]["markdown"]


def test_edited_file_is_rewritten(tmp_path) -> None:
    write_plan(tmp_path, build_report(full_results()), NOW)
    (tmp_path / FILES["junit"]).write_text("<testsuites/>", encoding="utf-8")
    assert write_plan(tmp_path, build_report(full_results()), LATER)["same"] is False


@pytest.mark.parametrize("previous", [b"\xff\xfe not UTF-8", b"x" * (1024 * 1024 + 1)], ids=["binary", "oversized"])
def test_a_previous_file_that_is_not_a_report_is_rewritten(tmp_path, previous: bytes) -> None:
    """A file at the report's path that is not UTF-8 text, or larger than any report, is read within a bound and
    differs from the new report: it is rewritten, never a decode error."""
    write_plan(tmp_path, build_report(full_results()), NOW)
    (tmp_path / FILES["markdown"]).write_bytes(previous)
    plan = write_plan(tmp_path, build_report(full_results()), LATER)
    assert plan["same"] is False
    assert (tmp_path / FILES["markdown"]).read_text(encoding="utf-8").startswith("# CMG readiness")


def test_dest_that_is_a_file_fails_clearly(tmp_path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(CmgError, match="cannot read the existing report file"):
        plan_report(str(target), build_report(full_results()))


def test_files_hold_no_secret(tmp_path) -> None:
    results = full_results()
    results["certificate"]["certificate"]["private_key"] = PEM_KEY
    results["certificate"]["password"] = SECRET
    write_plan(tmp_path, build_report(copy.deepcopy(results)), NOW)
    for text in read_files(tmp_path).values():
        assert SECRET not in text
        assert KEY_SECRET not in text
        assert "PRIVATE KEY" not in text


@pytest.mark.parametrize(("run_tags", "skip_tags", "name"), [
    (["all"], [], "cmg-readiness"), (None, None, "cmg-readiness"), (["availability"], [], "cmg-readiness-partial"),
    (["all"], ["dns"], "cmg-readiness-partial"), (["names", "availability"], [], "cmg-readiness-partial"),
    (["all"], ["molecule-notest", "notest"], "cmg-readiness"),
    (["certificate", "names", "availability", "dns", "report"], [], "cmg-readiness")])
def test_a_partial_run_has_its_own_files(run_tags, skip_tags, name) -> None:
    assert report_name(run_tags, skip_tags) == name


def test_report_name_is_checked(tmp_path) -> None:
    with pytest.raises(ReportError, match="invalid report name"):
        plan_report(str(tmp_path), build_report(full_results()), "../x")


def test_dns_result_without_propagation_skips_it() -> None:
    report = build_report(full_results(dns=dns_result([])))
    assert statuses(report)["propagation.skipped"] == "skip"
    assert report["skip_reasons"] == {"propagation": _report.NOT_WAITED}


# ---------------------------------------------------------------------------------------------
# the verdict: one rule, the worst of every check


@pytest.mark.parametrize(("check_statuses", "expected"), [
    ([], "pass"), (["pass", "skip"], "pass"), (["pass", "would_create"], "would_change"),
    (["would_change", "warn"], "warn"), (["warn", "not_run"], "fail"), (["pass", "fail", "skip"], "fail"),
    (["skip"], "pass")])
def test_verdict_is_the_worst_check(check_statuses, expected) -> None:
    assert verdict([{"status": status} for status in check_statuses]) == expected


@pytest.mark.parametrize("step", ["certificate", "names", "availability", "dns"])
def test_a_failed_step_fails_the_report_and_later_steps_are_not_run(step) -> None:
    """The issue-9 case: a step that errored without a result (an assert or a set_fact that raised), every step
    after it absent. Before, all of them were ``skip`` and the status ``pass``."""
    order = list(_report.STEP_REGISTRY)  # certificate, names, readiness, availability, dns, propagation
    results = {name: result for name, result in full_results().items() if order.index(name) < order.index(step)}
    failure = {"step": step, "task": "Some task", "msg": "it broke"}
    report = build_report(results, failure=failure)
    assert report["status"] == "fail"
    by_step = {}
    for check in report["checks"]:
        by_step.setdefault(check["step"], []).append(check["status"])
    assert "fail" in by_step[step]
    later = order[order.index(step) + 1:]
    assert all(by_step[name] == ["not_run"] for name in later)
    assert "skip" not in {status for statuses_ in by_step.values() for status in statuses_}
    assert report["not_run"] == {name: "not run: the role stopped at 'Some task'" for name in later}
    junit = render_junit(report, "2026-01-31T12:00:00Z")
    assert f'failures="{1 + len(later)}"' in junit


def test_a_failure_no_step_claims_is_a_run_error() -> None:
    report = build_report({}, failure={"step": "", "task": "Check the role's inputs", "msg": "cmg_region is required"})
    assert report["checks"][0] == {"id": "run.error", "step": "run", "name": "Role run completed", "status": "fail",
                                   "message": "cmg_region is required (at 'Check the role's inputs')"}
    assert {check["status"] for check in report["checks"][1:]} == {"not_run"}
    assert report["status"] == "fail"
    assert "| FAIL | Role run | Role run completed |" in render_markdown(report, "2026-01-31T12:00:00Z")


def test_a_failed_step_whose_checks_pass_still_fails() -> None:
    """A registered result that looks fine (a set_fact after the module raised) is no pass of a failed step."""
    report = build_report(full_results(), failure={"step": "dns", "task": "After the CNAME", "msg": "boom"})
    assert statuses(report)["dns.error"] == "fail"
    assert report["status"] == "fail"


def test_a_decision_skip_after_a_failure_is_not_run_with_its_reason() -> None:
    report = build_report({"certificate": certificate_result()}, {"propagation": "cmg_wait_for_dns is false"},
                          failure={"step": "names", "task": "Derive", "msg": "bad name"})
    assert report["not_run"]["propagation"] == ("not run: the role stopped at 'Derive' (and it would not have run: "
                                                "cmg_wait_for_dns is false)")


def test_tag_excluded_steps_before_the_failure_stay_skipped() -> None:
    report = build_report({"names": NAMES}, failure={"step": "availability", "task": "Check", "msg": "403"})
    assert statuses(report)["certificate.skipped"] == "skip"
    assert statuses(report)["availability.error"] == "fail"


def test_stop_message() -> None:
    failed = build_report({}, failure={"step": "", "task": "x", "msg": "give cmg_region"})
    assert stop_message(failed, "never", "/r") == "give cmg_region (readiness report: /r)"
    warned = build_report(full_results(availability=dict(availability_result(dns_label="available"), method="dns")))
    assert stop_message(warned, "error", "/r/cmg-readiness.md") is None
    assert stop_message(warned, "warning", "/r/cmg-readiness.md").startswith("CMG readiness WARN: availability.dns_label: ")
    with pytest.raises(ReportError, match="unknown fail_on"):
        stop_message(warned, "sometimes", "/r")


# ---------------------------------------------------------------------------------------------
# check mode and the DNS step's own propagation reason


def test_check_mode_would_create_in_all_three_formats(tmp_path) -> None:
    dns = {"changed": True, "record": None, "diff": {"before": {}, "after": {"target": "granitefalls.westus.cloudapp.azure.com"}}}
    report = build_report(full_results(dns=dns), {"propagation": "check mode: nothing was written"}, check_mode=True)
    assert statuses(report)["dns.record"] == "would_create"
    assert report["status"] == "would_change"
    markdown = render_markdown(report, "2026-01-31T12:00:00Z")
    assert "| WOULD CREATE | DNS record | Service name CNAME |" in markdown
    assert "**Result: WOULD CHANGE**" in markdown and "in check mode: nothing was written" in markdown
    document = json.loads(render_json(report, "2026-01-31T12:00:00Z"))
    assert document["check_mode"] is True and document["counts"]["would_create"] == 1
    path = tmp_path / "check.junit.xml"
    path.write_text(render_junit(report, "2026-01-31T12:00:00Z"), encoding="utf-8")
    cases = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    assert [type(result) for result in cases["dns.record"].result] == [Skipped]  # not a pass of the real state
    assert cases["dns.record"].result[0].message.startswith("would create: check mode")


def test_check_mode_would_change_an_existing_record() -> None:
    dns = {"changed": True, "record": {"target": "new.westus.cloudapp.azure.com"},
           "diff": {"before": {"target": "old.westus.cloudapp.azure.com"}, "after": {"target": "new"}}}
    assert statuses(build_report(full_results(dns=dns), check_mode=True))["dns.record"] == "would_change"


def test_check_mode_without_a_change_is_a_pass() -> None:
    assert statuses(build_report(full_results(dns=dns_result(changed=False)), check_mode=True))["dns.record"] == "pass"


def test_propagation_reason_from_the_dns_step() -> None:
    """What cmg_cname returns: ``propagation_skip_reason`` (top level) says why it did not wait; the row says it."""
    dns = dict(dns_result([]), propagation_skip_reason="wait is false")
    report = build_report(full_results(dns=dns))
    assert report["skip_reasons"] == {"propagation": "wait is false"}


def test_written_then_failed_is_a_pass_record_and_a_failed_propagation() -> None:
    """Issue 9 point 2 in the new shape: the PUT was sent (record, changed), then the name-server lookup failed."""
    dns = dict(dns_result([]), propagation_skip_reason="the zone's name servers do not resolve")
    dns.update(failed=True, msg="cannot resolve ns1.unresolvable.invalid: give them with the nameservers option")
    report = build_report(full_results(dns=dns), failure={"step": "dns", "task": "Make the CNAME", "msg": dns["msg"]})
    assert statuses(report)["dns.record"] == "pass"
    assert statuses(report)["propagation.servers"] == "fail"
    assert "the zone's name servers do not resolve" in report["checks"][-1]["message"]
    assert "dns.error" not in statuses(report)  # the failure is the propagation's, counted once
    assert report["status"] == "fail"


def test_written_then_failed_in_the_old_shape_is_not_a_skip() -> None:
    dns = {"failed": True, "changed": False, "msg": "no NS records: give them with the nameservers option"}
    report = build_report(full_results(dns=dns), {"propagation": "cmg_wait_for_dns is false"},
                          failure={"step": "dns", "task": "Make the CNAME", "msg": dns["msg"]})
    assert statuses(report)["dns.record"] == "fail"
    assert statuses(report)["propagation.not_run"] == "not_run"


# ---------------------------------------------------------------------------------------------
# new rows are data


def test_a_registered_step_is_judged_by_the_same_verdict(monkeypatch) -> None:
    monkeypatch.setattr(_report_model, "STEP_REGISTRY", dict(_report_model.STEP_REGISTRY))

    def backup_checks(result, _context):
        return [_report._check("backup", name, f"Backup: {name}", "pass" if ok else "fail", name)
                for name, ok in sorted(result["checks"].items())]

    register_step(Step("backup", "Site backup", backup_checks), after="availability")
    assert list(_report_model.STEP_REGISTRY) == ["certificate", "names", "readiness", "availability", "backup",
                                                 "dns", "propagation"]
    report = build_report(full_results(backup={"checks": {"providers": True, "quota": False}}))
    assert statuses(report)["backup.quota"] == "fail"
    assert report["status"] == "fail"
    skipped = build_report(full_results(), failure={"step": "availability", "task": "t", "msg": "m"})
    assert statuses(skipped)["backup.not_run"] == "not_run"
    with pytest.raises(ValueError, match="exists already"):
        register_step(Step("dns", "again", backup_checks))


# ---------------------------------------------------------------------------------------------
# several DNS records in one run (the role's cmg_dns_records: a looped cmg_cname task)


def record_item(index: int, name: str, **overrides: object) -> dict:
    """One item of the looped cmg_cname task, as Ansible registers it."""
    item = dict(dns_result([]), prepare_dns_index=index, ansible_loop_var="prepare_dns_index", propagation_skip_reason=None)
    item["record"] = dict(item["record"], provider=name)
    item.update(overrides)
    return item


def looped(*items: dict, failed: bool = False) -> dict:
    names = ["public", "internal", "broken"]
    result = {"changed": any(item.get("changed") for item in items), "results": list(items), "record_names": names,
              "msg": "All items completed"}
    if failed:
        result.update(failed=True, msg="One or more items failed")
    return result


RESOLVED = [{"resolver": "10.0.0.53", "answer": "granitefalls.westus.cloudapp.azure.com", "ok": True,
             "cached_for": None}]


def test_a_row_per_record_and_per_resolver_check() -> None:
    public = record_item(0, "azure_dns", propagation=[], propagation_skip_reason="wait is false")
    internal = record_item(1, "rfc2136", propagation=[{"server": "10.0.0.53", "answer": TARGET_NAME, "ok": True}],
                           resolution=RESOLVED)
    report = build_report(full_results(dns=looped(public, internal)))
    assert statuses(report) == {
        "certificate.read": "pass", "names.derived": "pass", "availability.dns_label": "pass",
        "availability.key_vault": "pass", "dns.record.public": "pass", "dns.record.internal": "pass",
        "propagation.servers.public": "skip", "propagation.servers.internal": "pass",
        "propagation.resolvers.internal": "pass"}
    by_id = {check["id"]: check for check in report["checks"]}
    assert by_id["propagation.servers.public"]["message"] == "wait is false"
    assert by_id["propagation.resolvers.internal"]["message"] == "answered by 10.0.0.53"
    assert by_id["dns.record.internal"]["name"] == "Service name CNAME (internal)"
    assert report["status"] == "pass"
    assert "prepare_dns_index" in json.dumps(report["steps"]["dns"])  # the results are kept (scrubbed)
    assert KEY_SECRET not in json.dumps(report)


def test_a_stale_resolver_says_how_long_it_may_cache() -> None:
    stale = [{"resolver": "10.0.0.53", "answer": "old.westus.cloudapp.azure.com", "ok": False, "cached_for": 300}]
    internal = record_item(1, "rfc2136", propagation=[{"server": "ns", "answer": TARGET_NAME, "ok": True}],
                           resolution=stale, failed=True, msg="the resolvers did not answer in time")
    report = build_report(full_results(dns=looped(record_item(0, "azure_dns", propagation_skip_reason="wait is false"),
                                                  internal, failed=True)),
                          failure={"step": "dns", "task": "Make the CNAME", "msg": "One or more items failed"})
    by_id = {check["id"]: check for check in report["checks"]}
    assert by_id["propagation.servers.internal"]["status"] == "pass"
    assert by_id["propagation.resolvers.internal"]["status"] == "fail"
    assert "10.0.0.53 still answers 'old.westus.cloudapp.azure.com' (cached for up to 300 s)" in \
        by_id["propagation.resolvers.internal"]["message"]
    assert "dns.error" not in by_id  # counted once, in the resolver row
    assert report["status"] == "fail"


def test_a_failed_record_leaves_the_others_rows_as_they_are() -> None:
    broken = record_item(2, "rfc2136", record=None, changed=False, failed=True,
                         msg="the DNS server rejected TSIG key 'cmg'")
    internal = record_item(1, "rfc2136", propagation=[{"server": "ns", "answer": TARGET_NAME, "ok": True}])
    public = record_item(0, "azure_dns", propagation_skip_reason="wait is false")
    report = build_report(full_results(dns=looped(broken, public, internal, failed=True)),
                          failure={"step": "dns", "task": "Make the CNAME", "msg": "One or more items failed"})
    rows = statuses(report)
    assert (rows["dns.record.broken"], rows["dns.record.public"], rows["dns.record.internal"]) == ("fail", "pass", "pass")
    assert rows["propagation.servers.broken"] == "not_run"
    assert (rows["propagation.servers.public"], rows["propagation.servers.internal"]) == ("skip", "pass")
    assert "dns.error" not in rows
    assert report["status"] == "fail"
    assert {check["id"] for check in report["to_fix"]} == {"dns.record.broken", "propagation.servers.broken"}
    assert report["failure"]["msg"] == "broken: the DNS server rejected TSIG key 'cmg'"  # not Ansible's loop words


def test_check_mode_words_per_record() -> None:
    public = record_item(0, "azure_dns", changed=True, record={"target": TARGET_NAME},
                         diff={"before": {}, "after": {"target": TARGET_NAME}},
                         propagation_skip_reason="check mode: nothing was written, so nothing was waited for")
    internal = record_item(1, "rfc2136", changed=True, diff={"before": {"target": "old"}, "after": {"target": TARGET_NAME}},
                           propagation_skip_reason="check mode: nothing was written, so nothing was waited for")
    unchanged = record_item(2, "rfc2136", changed=False,
                            propagation_skip_reason="check mode: nothing was written, so nothing was waited for")
    report = build_report(full_results(dns=looped(public, internal, unchanged)), check_mode=True)
    rows = statuses(report)
    assert (rows["dns.record.public"], rows["dns.record.internal"], rows["dns.record.broken"]) == (
        "would_create", "would_change", "pass")
    assert report["status"] == "would_change"
    assert report["skip_reasons"]["propagation"] == "check mode: nothing was written, so nothing was waited for"


def test_one_looped_record_keeps_the_single_record_ids() -> None:
    """The role passes ``results[0]`` for one record; a loop result of one item gives the same rows."""
    item = record_item(0, "azure_dns", propagation=[{"server": "ns", "answer": TARGET_NAME, "ok": True}])
    assert statuses(build_report(full_results(dns=looped(item)))) == statuses(build_report(full_results(dns=item)))


@pytest.mark.parametrize(("mode", "refused"), [
    ("0600", False), ("0640", False), ("640", False), ("0777", False), (0o640, False), ("u=rw,g=r", False),
    ("a+rX", False), (None, False), ("rw-r", False),  # Ansible's own check words the last one
    ("7777", True), ("4755", True), ("02750", True), ("1777", True), (0o4755, True), ("u+s", True), ("g=rws", True),
    ("+t", True), ("u=rw,o+t", True)])
def test_mode_takes_permission_bits_only(mode, refused) -> None:
    problem = _report.mode_problem(mode)
    assert (problem is not None) is refused
    if refused:
        assert "setuid, setgid or the sticky bit" in problem and "\n" not in problem


def test_a_boolean_is_no_mode() -> None:
    """YAML's ``mode: yes`` would reach Ansible as 1 (mode 0001): refused with one line."""
    assert _report.mode_problem(True).startswith("mode True is not a mode: ")
