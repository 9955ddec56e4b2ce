"""The monitor playbook (configmgr.cmg.monitor) over an inventory of 21 CMGs with forks=10, and
cmg_endpoint_info as a task: real TLS servers on loopback behind CNAMEs in a real BIND.

The JUnit summary is read with junitparser (an independent parser), the Markdown summary and the per-CMG
pages by their text. Timing is not asserted here: the forks speed-up is measured by ``make bench``
(tests/benchmarks/monitor.py).
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path
from typing import Any, Iterator

import junitparser
import pytest
import yaml
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support import pki
from tests.support.ansible import BIN, ansible_env, play, run_playbook, run_task
from tests.support.endpoints import CmgPki, TlsServer, add_cmg, closed_port, cmg_bind, cmg_pki

pytestmark = [pytest.mark.integration, pytest.mark.bind]
DAY = datetime.timedelta(days=1)
GOOD = 17
CHECKS = ["dns", "connect", "tls_version", "trust", "name", "expiry", "expected"]


class Fleet:
    """21 CMGs: 17 healthy, one expiring in 10 days, one expired, one on a closed port, one with a wrong
    expected thumbprint; and one CMG whose host variables are invalid (a malformed thumbprint)."""

    def __init__(self, bind: Any, ca: CmgPki, directory: Path) -> None:
        self.bind, self.ca, self.directory, self.servers = bind, ca, directory, []
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.hosts: dict[str, dict[str, Any]] = {}
        for index in range(GOOD):
            self._serve(f"cmg{index:02d}", ca.leaf(f"cmg{index:02d}.contoso.test"))
        self._serve("soon", ca.leaf("soon.contoso.test", not_after=now + 10 * DAY))
        self._serve("gone", ca.leaf("gone.contoso.test", not_before=now - 300 * DAY, not_after=now - DAY))
        self.hosts["closed"] = self._vars("closed", closed_port())
        add_cmg(bind, "closed")
        other = ca.leaf("swapped.contoso.test")
        self._serve("swapped", ca.leaf("swapped.contoso.test"))
        self.hosts["swapped"]["cmg_expected_thumbprint"] = hex_sha1(other)
        self.hosts["typo"] = {**self._vars("typo", 443), "cmg_expected_thumbprint": "not-a-thumbprint"}

    def _vars(self, name: str, port: int) -> dict[str, Any]:
        return {"cmg_service_name": f"{name}.contoso.test", "cmg_port": port, "cmg_region": "westus",
                "cmg_ca_bundle": str(self.ca.ca_bundle)}

    def _serve(self, name: str, leaf: pki.Issued) -> None:
        server = TlsServer(leaf, (self.ca.issuing.cert,)).start()
        self.servers.append(server)
        add_cmg(self.bind, name)
        self.hosts[name] = {**self._vars(name, server.port), "cmg_expected_thumbprint": hex_sha1(leaf)}

    def inventory(self, hosts: list[str] | None = None) -> Path:
        chosen = {name: self.hosts[name] for name in (hosts or self.hosts)}
        path = self.directory / f"inventory-{len(chosen)}.yml"
        path.write_text(yaml.safe_dump({"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python"),
                     "cmg_monitor_nameservers": [self.bind.address], "cmg_monitor_timeout": 3},
            "hosts": chosen}}), encoding="utf-8")
        return path

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def hex_sha1(leaf: pki.Issued) -> str:
    import hashlib
    return hashlib.sha1(leaf.cert.public_bytes(Encoding.DER)).hexdigest().upper()


def run_monitor(inventory: Path, report_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook configmgr.cmg.monitor -i inventory -f 10, as a pipeline runs it."""
    command = [str(BIN / "ansible-playbook"), "configmgr.cmg.monitor", "-i", str(inventory), "-f", "10",
               "-e", f"cmg_monitor_report_dir={report_dir}", *extra]
    return subprocess.run(command, env=ansible_env(), capture_output=True, text=True, timeout=600, check=False,
                          cwd=report_dir.parent)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    directory = tmp_path_factory.mktemp("monitor")
    with cmg_bind() as bind:
        made = Fleet(bind, cmg_pki(directory / "pki"), directory)
        try:
            yield made
        finally:
            made.stop()


@pytest.fixture(scope="module")
def mixed_run(fleet: Fleet) -> tuple[subprocess.CompletedProcess, Path]:
    report_dir = fleet.directory / "mixed"
    return run_monitor(fleet.inventory(), report_dir), report_dir


def test_a_red_cmg_fails_the_play(mixed_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    done, report_dir = mixed_run
    assert done.returncode == 2, done.stdout[-3000:]
    assert "CMG monitor FAIL for closed, gone, soon, swapped, typo" in done.stdout


def test_junit_has_a_test_case_per_cmg_and_check(mixed_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    _done, report_dir = mixed_run
    xml = junitparser.JUnitXml.fromfile(str(report_dir / "cmg-monitor.junit.xml"))
    cases = {(case.classname, case.name): case for suite in xml for case in suite}
    checked = [f"cmg{index:02d}" for index in range(GOOD)] + ["soon", "gone", "closed", "swapped"]
    assert set(cases) == {(f"cmg.{host}", check) for host in checked for check in CHECKS} | {("cmg.typo", "task")}

    def outcome(host: str, check: str) -> str:
        result = cases[(f"cmg.{host}", check)].result
        return type(result[0]).__name__ if result else "passed"

    for index in range(GOOD):
        assert {check: outcome(f"cmg{index:02d}", check) for check in CHECKS} == dict.fromkeys(CHECKS, "passed")
    assert outcome("soon", "expiry") == "Failure" and outcome("soon", "trust") == "passed"
    assert outcome("gone", "expiry") == "Failure"
    assert outcome("closed", "connect") == "Failure" and outcome("closed", "expiry") == "Skipped"
    assert outcome("swapped", "expected") == "Failure" and outcome("swapped", "name") == "passed"
    assert outcome("typo", "task") == "Failure"
    assert "neither a SHA-1" in cases[("cmg.typo", "task")].result[0].message
    suite = next(iter(xml))
    assert (suite.tests, suite.failures) == (len(checked) * len(CHECKS) + 1, 5)


def test_summary_and_pages(mixed_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    _done, report_dir = mixed_run
    summary = (report_dir / "cmg-monitor.md").read_text(encoding="utf-8")
    assert "**FAIL**: 5 CMG(s) need attention: closed, gone, soon, swapped, typo" in summary
    assert summary.count("| PASS |") == GOOD and "[cmg03](cmg03.cmg.md)" in summary
    data = json.loads((report_dir / "cmg-monitor.json").read_text(encoding="utf-8"))
    assert data["counts"] == {"pass": GOOD, "warn": 1, "fail": 4} and data["verdict"] == "fail"
    soon = (report_dir / "soon.cmg.md").read_text(encoding="utf-8")
    assert "# CMG soon: WARN" in soon and "## Renewal" in soon
    assert "Renew the certificate of soon.contoso.test: subject CN=soon.contoso.test,O=Corpus" in soon
    # the renew playbook exists (playbooks/renew.yml): the page names it, and the manual path beside it
    assert "Cloud Management Gateway" in soon and "`ansible-playbook configmgr.cmg.renew`" in soon
    assert "## Renewal" not in (report_dir / "cmg00.cmg.md").read_text(encoding="utf-8")
    assert len(list(report_dir.glob("*.cmg.md"))) == 22


def test_all_healthy_passes_and_a_rerun_writes_nothing(fleet: Fleet) -> None:
    report_dir = fleet.directory / "healthy"
    healthy = [f"cmg{index:02d}" for index in range(3)]
    inventory = fleet.inventory(healthy)
    first = run_monitor(inventory, report_dir)
    assert first.returncode == 0, first.stdout[-3000:]
    xml = junitparser.JUnitXml.fromfile(str(report_dir / "cmg-monitor.junit.xml"))
    assert sum(1 for suite in xml for case in suite if not case.is_passed) == 0
    assert sum(1 for suite in xml for _case in suite) == len(healthy) * len(CHECKS)
    second = run_monitor(inventory, report_dir)
    assert second.returncode == 0 and "changed=0" in second.stdout.split("PLAY RECAP")[1], second.stdout[-2000:]


def test_endpoint_info_task_hides_the_password_and_runs_in_check_mode(fleet: Fleet) -> None:
    leaf = fleet.ca.leaf("cmg00.contoso.test")
    pfx = fleet.directory / "expected.pfx"
    pfx.write_bytes(pki.pfx(leaf, (fleet.ca.issuing.cert,)))
    options = {**{key.replace("cmg_", "", 1): value for key, value in fleet.hosts["cmg00"].items()
                  if key != "cmg_expected_thumbprint"},
               "nameservers": [fleet.bind.address], "expected_certificate": str(pfx),
               "expected_certificate_password": "{{ secret }}", "fail_on": "error"}
    tasks = [{"name": "info", "configmgr.cmg.cmg_endpoint_info": options, "check_mode": True, "ignore_errors": True}]
    run = run_playbook(play(tasks), extra_vars={"secret": pki.PASSWORD}, verbosity=3)
    result = run.result("info")
    assert result["failed"] is True and result["findings"][0]["code"] == "not_expected_certificate"
    assert result["expected"] == {"by": "certificate", "matches": False}
    assert result["msg"].startswith("cmg00.contoso.test: 1 finding(s) at error level or worse: not_expected_certificate")
    assert pki.PASSWORD not in run.stdout + run.stderr + json.dumps(run.results)


@pytest.mark.parametrize("previous", [b"\xff\xfe not UTF-8", b"x" * (1024 * 1024 + 1)], ids=["binary", "oversized"])
def test_a_previous_summary_that_is_not_a_report_is_rewritten(tmp_path: Path, previous: bytes) -> None:
    """cmg_monitor_report reads what its summary files held within a bound: a file that is not UTF-8 text, or
    larger than any report, differs and is rewritten (it used to fail with a decode error)."""
    dest = tmp_path / "monitor"
    dest.mkdir()
    (dest / "cmg-monitor.md").write_bytes(previous)
    run = run_task("cmg_monitor_report", {"dest": str(dest), "results": {}})
    assert run.rc == 0 and run.result.get("failed") is not True, run.result
    assert run.result["changed"] is True
    assert (dest / "cmg-monitor.md").read_text(encoding="utf-8").startswith("#")
    assert run_task("cmg_monitor_report", {"dest": str(dest), "results": {}}).result["changed"] is False
