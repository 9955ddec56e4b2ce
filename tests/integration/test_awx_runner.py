# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prepare playbook as an AWX job runs it: through ansible-runner, with AWX's credential injection.

An AWX job is ``ansible_runner.run`` on a private data directory: the project (a playbook that imports
``configmgr.cmg.prepare``, as docs/awx.md says), the environment that the "Microsoft Azure Resource Manager"
credential injects (AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT, AZURE_SUBSCRIPTION_ID, plus
AZURE_CLOUD_ENVIRONMENT and REQUESTS_CA_BUNDLE for the sandbox), and the PFX password as the extra var
that the custom "CMG certificate" credential injects. AWX stores and shows the event stream, the stdout
and the artifacts, so neither the PFX password nor the client secret may appear in any of them, except the
client secret in ansible-runner's own record of the environment it was given (artifacts/<ident>/command).
The second test adds a deliberately leaking task and proves the scanner finds both secrets there.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from tests.support import pki
from tests.support.ansible import BIN, COLLECTIONS
from tests.support.azure_sandbox import AzureSandbox

pytestmark = pytest.mark.integration

PROJECT_PLAYBOOK = "- name: CMG - prepare\n  ansible.builtin.import_playbook: configmgr.cmg.prepare\n"
LEAKING_PLAYBOOK = PROJECT_PLAYBOOK + """\
- name: A careless addition to the job
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Show what should stay secret
      ansible.builtin.debug:
        msg: "password {{ cmg_certificate_password }} secret {{ lookup('ansible.builtin.env', 'AZURE_SECRET') }}"
"""
CNAME_EVENT_TASK = "Make the service name CNAME point at the deployment name"


@dataclass
class Job:
    """One finished ansible-runner job: its runner, the streamed events and its private data directory."""

    runner: Any
    private_data_dir: Path
    streamed: list[dict[str, Any]] = field(default_factory=list)

    def places(self, secret: str) -> list[str]:
        """Where ``secret`` shows: streamed events, the events runner keeps, its stdout, files under artifacts."""
        found = [f"streamed event {event.get('counter')} ({event.get('event')})"
                 for event in self.streamed if secret in json.dumps(event)]
        found += [f"runner event {event.get('counter')} ({event.get('event')})"
                  for event in self.runner.events if secret in json.dumps(event)]
        if secret in self.runner.stdout.read():
            found.append("runner stdout")
        artifacts = self.private_data_dir / "artifacts"
        found += [str(path.relative_to(self.private_data_dir)) for path in sorted(artifacts.rglob("*"))
                  if path.is_file() and secret.encode() in path.read_bytes()]
        return found


def awx_job(sandbox: AzureSandbox, private_data_dir: Path, playbook: str, extravars: dict[str, Any]) -> Job:
    """Lay out the private data directory as AWX does and run the job at verbosity 3 (-vvv)."""
    project = private_data_dir / "project"
    project.mkdir(parents=True)
    (project / "job.yml").write_text(playbook, encoding="utf-8")
    # What the EE provides: ansible-playbook on PATH, the collection installed, its Python running the modules.
    envvars = {**sandbox.env(), "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    inventory = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    streamed: list[dict[str, Any]] = []
    runner = ansible_runner.run(private_data_dir=str(private_data_dir), playbook="job.yml",
                                inventory=inventory, envvars=envvars, extravars=extravars,
                                verbosity=3, quiet=True, event_handler=lambda event: streamed.append(event) or True)
    return Job(runner, private_data_dir, streamed)


@pytest.fixture
def job_inputs(azure_sandbox: AzureSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A contoso.com zone in the sandbox, the sample PFX and the job's variables (the password among them)."""
    for name in [name for name in os.environ if name.startswith(("AZURE_", "REQUESTS_CA_BUNDLE"))]:
        monkeypatch.delenv(name)
    azure_sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
    sample = pki.build_sample(tmp_path / "pki", "GraniteFalls.contoso.com")
    return {"cmg_certificate_path": sample["path"], "cmg_certificate_password": sample["password"],
            "cmg_ca_bundle": sample["ca_bundle"], "cmg_region": "westus", "cmg_dns_zone": "contoso.com",
            "cmg_dns_resource_group": "rg-dns", "cmg_wait_for_dns": False,
            "cmg_report_dir": str(tmp_path / "runner" / "artifacts" / "cmg-readiness")}


def test_awx_job_succeeds_and_leaks_no_secret(azure_sandbox: AzureSandbox, job_inputs: dict[str, Any],
                                              tmp_path: Path) -> None:
    job = awx_job(azure_sandbox, tmp_path / "runner", PROJECT_PLAYBOOK, job_inputs)
    assert (job.runner.status, job.runner.rc) == ("successful", 0), job.runner.stdout.read()
    assert job.runner.stats["changed"] == {"localhost": 2}
    assert [(request.method, request.path.rsplit("/dnsZones/", 1)[-1]) for request in azure_sandbox.writes()] == [
        ("PUT", "contoso.com/CNAME/granitefalls")]
    changed = [event["event_data"]["task"] for event in job.runner.events
               if event["event"] == "runner_on_ok" and event["event_data"]["res"].get("changed")]
    assert changed == [CNAME_EVENT_TASK, "Write the readiness report"]
    report_files = sorted(path.name for path in (tmp_path / "runner" / "artifacts" / "cmg-readiness").iterdir())
    assert report_files == ["cmg-readiness.json", "cmg-readiness.junit.xml", "cmg-readiness.md"]
    assert len(list((tmp_path / "runner" / "artifacts").rglob("job_events/*.json"))) == len(job.streamed) > 20
    assert job.places(pki.PASSWORD) == []
    # ansible-runner itself records the environment it starts Ansible with (the injected credential included) in
    # artifacts/<ident>/command, written by runner.py before Ansible runs, mode 0600: runner's input, not our output.
    command = f"artifacts/{job.runner.config.ident}/command"
    assert job.places(azure_sandbox.client_secret) == [command]
    assert json.loads((job.private_data_dir / command).read_text(encoding="utf-8"))["env"]["AZURE_SECRET"] == \
        azure_sandbox.client_secret
    assert stat.S_IMODE((job.private_data_dir / command).stat().st_mode) == 0o600


def test_scanner_finds_a_leaking_task(azure_sandbox: AzureSandbox, job_inputs: dict[str, Any], tmp_path: Path) -> None:
    job = awx_job(azure_sandbox, tmp_path / "runner", LEAKING_PLAYBOOK, job_inputs)
    assert (job.runner.status, job.runner.rc) == ("successful", 0), job.runner.stdout.read()
    for secret in (pki.PASSWORD, azure_sandbox.client_secret):
        places = job.places(secret)
        assert "runner stdout" in places
        assert any(place.startswith("streamed event ") and place.endswith("(runner_on_ok)") for place in places)
        assert any(place.startswith("runner event ") and place.endswith("(runner_on_ok)") for place in places)
        assert any("/job_events/" in place for place in places), places
        assert any(place.endswith("/stdout") for place in places), places
