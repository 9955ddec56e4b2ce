# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the readiness report: checks, scrubbing, rendering, idempotent atomic writing."""

from __future__ import annotations

import copy
import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from junitparser import Failure, JUnitXml, Skipped

from ansible_collections.configmgr.cmg.plugins.module_utils import _certificate, _report
from ansible_collections.configmgr.cmg.plugins.module_utils._naming import derive_names
from ansible_collections.configmgr.cmg.plugins.module_utils._report import (
    FILES, ReportError, build_report, parse_mode, render_junit, render_markdown, scrub, write_report)
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
    assert report["counts"] == {"pass": 6, "warn": 0, "fail": 0, "skip": 0}
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
    assert report["counts"] == {"pass": 0, "warn": 0, "fail": 1, "skip": 4}
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
# writing


def read_files(directory) -> dict[str, str]:
    return {kind: (directory / name).read_text(encoding="utf-8") for kind, name in FILES.items()}


def test_write_is_idempotent_and_keeps_the_timestamp(tmp_path) -> None:
    dest = tmp_path / "reports"
    first = write_report(str(dest), build_report(full_results()), now=NOW)
    assert first["changed"] is True
    assert sorted(os.listdir(dest)) == sorted(FILES.values())
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    for name in FILES.values():
        assert stat.S_IMODE((dest / name).stat().st_mode) == 0o600
    written = read_files(dest)
    assert json.loads(written["json"])["generated_at"] == "2026-01-31T12:00:00Z"

    # A second run whose steps report changed=false and another msg: same content, nothing written.
    second = write_report(str(dest), build_report(full_results(dns=dns_result(OK_PROPAGATION, changed=False))), now=LATER)
    assert second["changed"] is False
    assert second["generated_at"] == "2026-01-31T12:00:00Z"
    assert read_files(dest) == written


def test_a_day_later_the_same_state_writes_nothing(tmp_path) -> None:
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    written = read_files(tmp_path)
    tomorrow = certificate_result()
    tomorrow["certificate"]["days_remaining"] = 364
    result = write_report(str(tmp_path), build_report(full_results(certificate=tomorrow)), now=LATER)
    assert result["changed"] is False
    assert read_files(tmp_path) == written
    assert "days_remaining" not in written["json"]


def test_a_day_later_inside_the_warning_window_writes_nothing(tmp_path, cert_corpus: Corpus) -> None:
    case = next(case for case in CASES if case.name == "expiring_soon")
    today = datetime.now(timezone.utc)

    def validated(now: datetime) -> dict:
        result = _certificate.validate(_certificate.ValidationRequest(
            **cert_corpus.options(case), service_name="cmg.contoso.com", now=now))
        return dict(result, changed=False)

    first = validated(today)
    write_report(str(tmp_path), build_report(full_results(certificate=first)), now=NOW)
    written = read_files(tmp_path)
    assert "expiring_soon" in written["markdown"]
    tomorrow = validated(today + timedelta(days=1))
    assert tomorrow["certificate"]["days_remaining"] == first["certificate"]["days_remaining"] - 1
    result = write_report(str(tmp_path), build_report(full_results(certificate=tomorrow)), now=LATER)
    assert result["changed"] is False
    assert read_files(tmp_path) == written


def test_a_re_run_renders_each_file_once(tmp_path, monkeypatch) -> None:
    calls = []
    for kind, render in list(_report.RENDERERS.items()):
        monkeypatch.setitem(_report.RENDERERS, kind, lambda report, timestamp, kind=kind, render=render:
                            calls.append(kind) or render(report, timestamp))
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    assert calls == ["json", "markdown", "junit"]
    calls.clear()
    assert write_report(str(tmp_path), build_report(full_results()), now=LATER)["changed"] is False
    assert calls == ["json", "markdown", "junit"]
    calls.clear()
    changed = build_report(full_results(availability=availability_result(dns_label="taken")))
    assert write_report(str(tmp_path), changed, now=LATER)["generated_at"] == "2026-02-01T08:30:00Z"
    assert calls == ["json", "markdown", "junit"] * 2


def test_write_rewrites_on_content_change_with_a_new_timestamp(tmp_path) -> None:
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    before = read_files(tmp_path)["markdown"]
    changed = build_report(full_results(availability=availability_result(dns_label="taken", key_vault="owned")))
    result = write_report(str(tmp_path), changed, now=LATER)
    assert result["changed"] is True
    assert result["generated_at"] == "2026-02-01T08:30:00Z"
    assert result["diff"]["before"] == before
    assert result["diff"]["after"] == read_files(tmp_path)["markdown"]
    assert "**Result: FAIL**" in result["diff"]["after"]
    assert json.loads(read_files(tmp_path)["json"])["status"] == "fail"


def test_check_mode_writes_nothing(tmp_path) -> None:
    dest = tmp_path / "new"
    result = write_report(str(dest), build_report(full_results()), check_mode=True, now=NOW)
    assert result["changed"] is True
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"].startswith("# CMG readiness: GraniteFalls.contoso.com\n")
    assert not dest.exists()


def test_wrong_mode_is_corrected_without_rewriting(tmp_path) -> None:
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    markdown = tmp_path / FILES["markdown"]
    markdown.chmod(0o644)
    check = write_report(str(tmp_path), build_report(full_results()), check_mode=True, now=LATER)
    assert check["changed"] is True
    assert stat.S_IMODE(markdown.stat().st_mode) == 0o644
    result = write_report(str(tmp_path), build_report(full_results()), now=LATER)
    assert result["changed"] is True
    assert result["generated_at"] == "2026-01-31T12:00:00Z"
    assert stat.S_IMODE(markdown.stat().st_mode) == 0o600
    assert write_report(str(tmp_path), build_report(full_results()), now=LATER)["changed"] is False


def test_custom_mode(tmp_path) -> None:
    write_report(str(tmp_path), build_report(full_results()), mode=parse_mode("0640"), now=NOW)
    assert {stat.S_IMODE((tmp_path / name).stat().st_mode) for name in FILES.values()} == {0o640}


def test_edited_file_is_rewritten(tmp_path) -> None:
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    (tmp_path / FILES["junit"]).write_text("<testsuites/>", encoding="utf-8")
    assert write_report(str(tmp_path), build_report(full_results()), now=LATER)["changed"] is True
    assert "certificate.read" in read_files(tmp_path)["junit"]


def test_failed_write_leaves_the_old_report_and_no_temporary_file(tmp_path, monkeypatch) -> None:
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    before = read_files(tmp_path)
    real_replace = os.replace
    calls = []

    def replace_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(_report.os, "replace", replace_then_fail)
    changed = build_report(full_results(availability=availability_result(dns_label="taken")))
    with pytest.raises(ReportError, match="cannot write the report in .*: No space left on device"):
        write_report(str(tmp_path), changed, now=LATER)
    assert sorted(os.listdir(tmp_path)) == sorted(FILES.values())
    after = read_files(tmp_path)
    assert after["markdown"] == before["markdown"]
    assert after["junit"] == before["junit"]


def test_mode_that_cannot_be_corrected_fails_in_one_line(tmp_path, monkeypatch) -> None:
    write_report(str(tmp_path), build_report(full_results()), now=NOW)
    markdown = tmp_path / FILES["markdown"]
    markdown.chmod(0o644)

    def refuse(_path, _mode):  # what the OS answers for a file on a read-only or immutable mount
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(_report.os, "chmod", refuse)
    with pytest.raises(ReportError) as caught:
        write_report(str(tmp_path), build_report(full_results()), now=LATER)
    assert str(caught.value) == f"cannot set the mode of the report file {markdown}: Operation not permitted"
    assert stat.S_IMODE(markdown.stat().st_mode) == 0o644


def test_dest_that_is_a_file_fails_clearly(tmp_path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match="cannot (create the report directory|read the existing report file)"):
        write_report(str(target), build_report(full_results()))


def test_files_hold_no_secret(tmp_path) -> None:
    results = full_results()
    results["certificate"]["certificate"]["private_key"] = PEM_KEY
    results["certificate"]["password"] = SECRET
    write_report(str(tmp_path), build_report(copy.deepcopy(results)), now=NOW)
    for text in read_files(tmp_path).values():
        assert SECRET not in text
        assert KEY_SECRET not in text
        assert "PRIVATE KEY" not in text


@pytest.mark.parametrize(("mode", "expected"), [("0600", 0o600), ("600", 0o600), ("0o640", 0o640), (0o600, 0o600),
                                                ("0755", 0o755)])
def test_parse_mode(mode, expected) -> None:
    assert parse_mode(mode) == expected


@pytest.mark.parametrize("mode", ["rw", "0999", "", True, -1, 0o10000, "u=rw"])
def test_parse_mode_refuses(mode) -> None:
    with pytest.raises(ReportError, match="invalid mode"):
        parse_mode(mode)


def test_dns_result_without_propagation_skips_it() -> None:
    report = build_report(full_results(dns=dns_result([])))
    assert statuses(report)["propagation.skipped"] == "skip"
    assert report["skip_reasons"] == {"propagation": _report.NOT_WAITED}


def test_default_reason_for_steps_that_did_not_run() -> None:
    stopped = "not run: the role stopped at 'Check the CMG names in Azure'"
    report = build_report({"certificate": certificate_result(), "names": NAMES,
                           "availability": {"failed": True, "msg": "401: the service principal cannot sign in"}},
                          default_reason=stopped)
    assert statuses(report)["availability.error"] == "fail"
    assert report["skip_reasons"] == {"dns": stopped, "propagation": stopped}
