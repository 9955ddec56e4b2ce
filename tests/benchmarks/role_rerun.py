"""Benchmark: the whole ``prepare`` role, re-run on a state where everything is in place.

Runs ``playbooks/prepare.yml`` against the local Azure sandbox (an Azure DNS zone ``contoso.com``, a PFX
for ``GraniteFalls.contoso.com`` from a test enterprise PKI, no DNS wait) once untimed (it creates the
CNAME and the report), then times re-runs interleaved with a playbook of as many ``ansible.builtin.ping``
tasks as the re-run executed (skipped tasks not counted), and counts every request the re-run sent to
the sandbox (token service and metadata included) and its writes.

Run: ``.venv/bin/python -m tests.benchmarks.role_rerun [--runs 5]``; prints JSON. ``make bench`` runs it
through :mod:`tests.benchmarks.bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tests.support import pki
from tests.support.ansible import ROOT, play, run_playbook
from tests.support.azure_sandbox import AzureSandbox

PLAYBOOK = ROOT / "playbooks" / "prepare.yml"
SERVICE_NAME = "GraniteFalls.contoso.com"


@dataclass
class RoleRerun:
    """The role re-run and its ping floor: wall times, tasks, requests."""

    extra_vars: dict[str, Any]
    sandbox: AzureSandbox
    tasks: int = 0  # tasks the re-run executed (not skipped)
    skipped: int = 0
    seconds: list[float] = field(default_factory=list)
    ping_seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)  # every request to the sandbox, per re-run
    arm: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)  # TCP connections to the sandbox per re-run
    changed: list[list[str]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def _run_role(self) -> Any:
        self.sandbox.clear_requests()
        started = time.monotonic()
        run = run_playbook(PLAYBOOK, extra_vars=self.extra_vars, env=self.sandbox.env())
        elapsed = time.monotonic() - started
        if run.rc != 0:
            raise RuntimeError(f"the prepare role failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}")
        return run, elapsed

    def warm_up(self) -> None:
        """The first run (creates the CNAME and the report), then one untimed re-run that counts the tasks."""
        self._run_role()
        run, _elapsed = self._run_role()
        self.tasks = sum(1 for entry in run.results if entry["status"] != "skipped")
        self.skipped = sum(1 for entry in run.results if entry["status"] == "skipped")
        self._ping_play = play([{"name": f"ping {index}", "ansible.builtin.ping": {}} for index in range(self.tasks)])
        self.time_ping()

    def time_role(self) -> None:
        """One timed re-run, with its requests."""
        run, elapsed = self._run_role()
        self.seconds.append(elapsed)
        self.requests.append(len(self.sandbox.requests))
        self.arm.append(len(self.sandbox.arm_requests()))
        self.tokens.append(len(self.sandbox.token_requests()))
        self.writes.append(len(self.sandbox.writes()))
        self.connections.append(len({request.peer for request in list(self.sandbox.requests)}))
        self.changed.append([entry["task"] for entry in run.results if entry["result"].get("changed")])
        self.sent = [f"{request.method} {request.path}" for request in list(self.sandbox.requests)]

    def time_ping(self) -> float:
        """One timed run of the playbook of ``tasks`` ping tasks."""
        started = time.monotonic()
        run = run_playbook(self._ping_play)
        elapsed = time.monotonic() - started
        if run.rc != 0:
            raise RuntimeError(f"the ping playbook failed:\n{run.stdout[-2000:]}")
        return elapsed

    def round(self) -> None:
        """One interleaved round: the role re-run, then the ping playbook."""
        self.time_role()
        self.ping_seconds.append(self.time_ping())

    def as_json(self) -> dict[str, Any]:
        """The figures, JSON-able."""
        return {"tasks": self.tasks, "skipped": self.skipped, "runs": [round(value, 3) for value in self.seconds],
                "ping_runs": [round(value, 3) for value in self.ping_seconds],
                "median": round(statistics.median(self.seconds), 3),
                "ping_median": round(statistics.median(self.ping_seconds), 3),
                "requests": self.requests, "arm_requests": self.arm, "token_requests": self.tokens, "writes": self.writes,
                "connections": self.connections, "changed": self.changed, "sent": self.sent}


@contextlib.contextmanager
def role_rerun() -> Iterator[RoleRerun]:
    """A sandbox with the ``contoso.com`` zone and the role's inputs: a PFX, its CA bundle, a report directory."""
    with AzureSandbox() as sandbox, tempfile.TemporaryDirectory(prefix="cmg-bench-role-") as workdir:
        directory = Path(workdir)
        sandbox.seed({"dns": {"zones": [{"name": "contoso.com", "resourceGroup": "rg-dns"}]}})
        now = pki._now()  # pylint: disable=protected-access
        root = pki.make_cert("Bench Root", pki.rsa_key(2048, 1), ca=True, not_after=now + 3650 * pki.DAY)
        issuing = pki.make_cert("Bench Issuing CA", pki.rsa_key(2048, 2), root, ca=True, not_after=now + 1800 * pki.DAY)
        (directory / "ca_bundle.pem").write_bytes(pki.pem(root.cert, issuing.cert))
        (directory / "granitefalls.pfx").write_bytes(
            pki.pfx(pki.make_cert(SERVICE_NAME, pki.rsa_key(2048), issuing), (issuing.cert, root.cert)))
        extra = {"cmg_certificate_path": str(directory / "granitefalls.pfx"), "cmg_certificate_password": pki.PASSWORD,
                 "cmg_ca_bundle": str(directory / "ca_bundle.pem"), "cmg_region": "West US",
                 "cmg_report_dir": str(directory / "report"), "cmg_dns_zone": "contoso.com",
                 "cmg_dns_resource_group": "rg-dns", "cmg_wait_for_dns": False}
        yield RoleRerun(extra, sandbox)


def main(argv: list[str] | None = None) -> int:
    """Time the role re-run against its ping floor and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with role_rerun() as bench:
        bench.warm_up()
        for _run in range(args.runs):
            bench.round()
    print(json.dumps(bench.as_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
