# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmg_report through a real ansible-playbook run: files, mode, idempotence, check and diff mode, no secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from tests.support.ansible import run_playbook

pytestmark = pytest.mark.integration

SECRET = "Pfx-Pa55word-never-written"
KEY_SECRET = "dHNpZy1zZWNyZXQtbmV2ZXItd3JpdHRlbg=="
FILES = ("cmg-readiness.json", "cmg-readiness.md", "cmg-readiness.junit.xml")

CERTIFICATE = {
    "changed": False, "valid": True, "password": SECRET,
    "findings": [{"code": "expiring_soon", "severity": "warning", "message": "renew within 20 days"}],
    "certificate": {"common_name": "GraniteFalls.contoso.com", "thumbprint": "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
                    "not_after": "2027-01-31T12:00:00Z", "days_remaining": 20, "key_type": "RSA", "key_size": 2048,
                    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"},
    "chain": {"trust": "enterprise"},
}
DNS = {"changed": True, "key_secret": KEY_SECRET,
       "record": {"fqdn": "GraniteFalls.contoso.com", "target": "granitefalls.westus.cloudapp.azure.com", "ttl": 3600,
                  "zone": "contoso.com", "provider": "rfc2136"}}


def report_task(name: str, dest: str, **extra: object) -> dict:
    """A cmg_report task; the names come from the real cmg_names filter."""
    args = {
        "dest": dest,
        "certificate": "{{ certificate }}",
        "names": "{{ 'GraniteFalls.contoso.com' | configmgr.cmg.cmg_names(region='West US', dns_zone='contoso.com') }}",
        "dns": "{{ dns }}",
        "skip_reasons": {"availability": "checked by hand", "propagation": "cmg_wait_for_dns is false"},
    }
    args.update(extra)
    return {"name": name, "configmgr.cmg.cmg_report": args, "register": name.replace(" ", "_")}


def playbook(tasks: list[dict]) -> str:
    return yaml.safe_dump([{"name": "report", "hosts": "localhost", "gather_facts": False,
                            "vars": {"certificate": CERTIFICATE, "dns": DNS}, "tasks": tasks}], sort_keys=False)


def test_report_written_once_with_mode_and_no_secret(tmp_path: Path) -> None:
    dest = tmp_path / "reports"
    other = tmp_path / "group-readable"
    run = run_playbook(playbook([
        report_task("first", str(dest)),
        report_task("second", str(dest)),
        report_task("third", str(dest), dns={"changed": False, "record": DNS["record"]}),
        report_task("group readable", str(other), mode="0640"),
    ]), diff=True)
    assert run.rc == 0, run.stdout + run.stderr

    first = run.result("first")
    assert first["changed"] is True
    assert first["status"] == "warn"
    assert first["counts"] == {"pass": 3, "warn": 1, "fail": 0, "skip": 2, "not_run": 0, "would_create": 0,
                               "would_change": 0}
    assert [check["id"] for check in first["to_fix"]] == ["certificate.expiring_soon"]
    assert first["wizard"]["deployment_name"] == "granitefalls.westus.cloudapp.azure.com"
    assert first["skip_reasons"] == {"availability": "checked by hand", "propagation": "cmg_wait_for_dns is false"}
    assert first["paths"]["markdown"] == str(dest / "cmg-readiness.md")
    assert first["diff"]["before"] == ""
    assert first["diff"]["after"] == (dest / "cmg-readiness.md").read_text(encoding="utf-8")

    for task in ("second", "third"):
        assert run.result(task)["changed"] is False, task
        assert "diff" not in run.result(task)
        assert run.result(task)["generated_at"] == first["generated_at"]

    assert sorted(path.name for path in dest.iterdir()) == sorted(FILES)
    for name in FILES:
        assert stat.S_IMODE((dest / name).stat().st_mode) == 0o600
        assert stat.S_IMODE((other / name).stat().st_mode) == 0o640
        text = (dest / name).read_text(encoding="utf-8")
        assert SECRET not in text
        assert KEY_SECRET not in text
        assert "PRIVATE KEY" not in text
    assert SECRET not in run.stdout
    assert json.loads((dest / "cmg-readiness.json").read_text(encoding="utf-8"))["generated_at"] == first["generated_at"]

    junit = JUnitXml.fromfile(str(dest / "cmg-readiness.junit.xml"))
    assert (junit.tests, junit.failures, junit.errors, junit.skipped) == (6, 0, 0, 2)


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "reports"
    run = run_playbook(playbook([report_task("would write", str(dest))]), check=True, diff=True)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.result("would write")["changed"] is True
    assert run.result("would write")["diff"]["after"].startswith("# CMG readiness: GraniteFalls.contoso.com\n")
    assert not dest.exists()


def test_file_attributes_follow_ansible_conventions(tmp_path: Path) -> None:
    """mode in octal or symbolic form, corrected without rewriting; a bad mode fails with Ansible's own message."""
    dest = tmp_path / "reports"
    run = run_playbook(playbook([
        report_task("first", str(dest)),
        report_task("symbolic", str(dest), mode="u=rw,g=r"),
        report_task("again", str(dest), mode="0640"),
        dict(report_task("bad mode", str(tmp_path / "bad"), mode="rw-r"), ignore_errors=True),
    ]))
    assert run.rc == 0, run.stdout + run.stderr
    assert run.result("symbolic")["changed"] is True
    assert run.result("symbolic")["generated_at"] == run.result("first")["generated_at"]
    assert run.result("again")["changed"] is False
    for name in FILES:
        assert stat.S_IMODE((dest / name).stat().st_mode) == 0o640
    assert sorted(path.name for path in dest.iterdir()) == sorted(FILES)  # no temporary file left
    bad = run.result("bad mode")
    assert bad["failed"] is True
    assert "mode must be in octal or symbolic form" in bad["msg"]


def test_mode_takes_permission_bits_only(tmp_path: Path) -> None:
    """Issue 10 point 8: setuid, setgid and sticky (7777, 4755, u+s, +t) are refused with one line, before anything is
    written; the report written before keeps its mode."""
    dest = tmp_path / "reports"
    refused = ("7777", "4755", "u+s", "o=rwt", "01777")
    run = run_playbook(playbook([report_task("first", str(dest), mode="0640")] + [
        dict(report_task(f"mode {index}", str(dest), mode=mode), ignore_errors=True) for index, mode in enumerate(refused)] + [
        dict(report_task("fresh", str(tmp_path / "fresh"), mode="7777"), ignore_errors=True)]))
    assert run.rc == 0, run.stdout + run.stderr
    for index, mode in enumerate(refused):
        result = run.result(f"mode {index}")
        assert result["failed"] is True and result.get("changed") is not True
        assert result["msg"].startswith(f"mode '{mode}' sets setuid, setgid or the sticky bit: "), result["msg"]
        assert "\n" not in result["msg"]
    for name in FILES:
        assert stat.S_IMODE((dest / name).stat().st_mode) == 0o640
    assert not (tmp_path / "fresh").exists()


def test_failure_and_role_words(tmp_path: Path) -> None:
    dest = tmp_path / "reports"
    run = run_playbook(playbook([report_task(
        "failed run", str(dest), vocabulary="role", run_tags=["availability"],
        failure={"step": "availability", "task": "Check the CMG names in Azure",
                 "msg": "no Azure subscription given (auth_source msi): set subscription_id or AZURE_SUBSCRIPTION_ID"})]))
    assert run.rc == 0, run.stdout + run.stderr
    result = run.result("failed run")
    assert result["status"] == "fail" and result["stop"] is True
    assert result["name"] == "cmg-readiness-partial"
    assert "auth_source" not in result["stop_msg"] and "cmg_name_check_method: dns" in result["stop_msg"]
    assert result["stop_msg"].endswith(f"(readiness report: {dest})")
    junit = JUnitXml.fromfile(str(dest / "cmg-readiness-partial.junit.xml"))
    assert junit.failures == 2  # availability.error, propagation not run (the dns result was given)
