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
    assert first["counts"] == {"pass": 3, "warn": 1, "fail": 0, "skip": 2}
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


def test_check_mode_writes_nothing_and_bad_mode_fails(tmp_path: Path) -> None:
    dest = tmp_path / "reports"
    tasks = [report_task("would write", str(dest)),
             dict(report_task("bad mode", str(tmp_path / "bad"), mode="rw-r"), ignore_errors=True)]
    run = run_playbook(playbook(tasks), check=True, diff=True)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.result("would write")["changed"] is True
    assert run.result("would write")["diff"]["after"].startswith("# CMG readiness: GraniteFalls.contoso.com\n")
    assert not dest.exists()
    bad = run.result("bad mode")
    assert bad["failed"] is True
    assert bad["msg"] == "invalid mode 'rw-r': give an octal string such as '0600'"
    assert not (tmp_path / "bad").exists()
