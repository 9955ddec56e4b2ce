"""Benchmark: what a task of each module costs over ``ansible.builtin.ping``.

Starts the local Azure sandbox, a BIND 9 ``named`` and a loopback CMG endpoint, then times ``--runs`` (default 5)
``ansible-playbook`` runs of one task each, round-robin over the tasks: ``ansible.builtin.ping``,
``cmg_cert_validate`` on the sample PFX of :func:`tests.support.pki.build_sample`,
``cmg_name_available`` (method=arm, the three names free), ``cmg_azure_readiness`` (four providers registered,
the quota fits, no scale set in the resource group: six reads), ``cmg_cname`` (provider=azure_dns, the record already in place: the idempotent re-run,
waiting for propagation on BIND) and ``cmg_report`` (the files already written). Each task first
runs once untimed (it creates the record and the report files, and warms the disk cache).

Per task it prints the median wall time of the playbook, the extra over ping, and from the
sandbox's request log the token requests, Resource Manager requests and writes of each run.

The module process is measured on its own: after each playbook run the module runs again the way
AnsiballZ runs it (``python -m <module> <args file>`` with the collection on ``PYTHONPATH``), which
gives its median wall time without Ansible's controller; one more run under ``python -X importtime``
measures the imports. The report names the heavy third-party packages that got imported
(``cryptography``, ``azure.*``, ``msal``, ``requests``, ``dns``...) with the import time of their own
modules and the import time of everything (``-X importtime`` slows imports a little; no timing
above runs under it).

The module process runs under :mod:`tests.benchmarks.harness`, which also records the number of
imported modules (``sys.modules``) and the peak RSS (``VmHWM``) of that process; the playbook runs use an
interpreter wrapper (:func:`rss_interpreter`) that records the peak RSS of each task's AnsiballZ process.

The newer tasks run too: ``cmg_endpoint_info`` (a loopback TLS server behind a CNAME in BIND),
``cmg_cert_request`` (key and CSR in place), ``cmg_pfx`` (the PFX in place) and ``cmg_monitor_report``
(the report of one healthy CMG, files in place).

Run: ``.venv/bin/python -m tests.benchmarks.task_overhead [--runs 5] [--json] [--collections DIR]``
(``DIR`` holds ``ansible_collections/configmgr/cmg``: another checkout, to compare); exits 1 when a
task fails or does not take its expected path (changed, sends a write, more than one token).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tests.benchmarks.name_checks import measure as measure_name_checks, summary as name_checks_summary
from tests.support.ansible import BIN, COLLECTIONS, ansible_env, play, run_playbook
from tests.support.azure_sandbox import AzureSandbox
from tests.support.bind import BindServer, running_named
from tests.support.endpoints import ZONES, TlsServer, add_cmg, cmg_pki
from tests.support.pki import build_sample, pem

HARNESS = Path(__file__).resolve().parent / "harness.py"

SERVICE_NAME = "GraniteFalls.contoso.test"
TARGET = "granitefalls.westus.cloudapp.azure.com"
DNS_GROUP = "rg-dns"
ENDPOINT_PREFIX = "benchcmg"
#: Third-party packages worth naming when a module process imports them (module prefixes).
HEAVY = ("cryptography", "azure.identity", "azure.core", "azure.mgmt.network", "azure.mgmt.storage",
         "azure.mgmt.keyvault", "azure.mgmt.dns", "azure.mgmt.compute", "msal", "requests", "urllib3", "dns", "certifi",
         "jwt", "isodate", "yaml", "jinja2")


@dataclass
class Scenario:
    """One task to time: the module, its arguments, and its run in the module process."""

    label: str
    module: str  # FQCN
    args: dict[str, Any]
    python_module: str  # the importable module that AnsiballZ runs

    def task(self) -> dict[str, Any]:
        """The playbook task."""
        return {"name": self.label, self.module: self.args}


@dataclass
class Measured:
    """What the runs of one scenario measured."""

    label: str
    seconds: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    arm: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)  # TCP connections to the sandbox per run
    changed: list[bool] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # method and path of every request of the last run
    process_runs: list[float] = field(default_factory=list)
    heavy_imports: dict[str, float] = field(default_factory=dict)  # package -> import seconds; "total": all imports
    module_counts: list[int] = field(default_factory=list)  # len(sys.modules) of each module process
    task_rss_kib: list[int] = field(default_factory=list)  # peak RSS of the task's AnsiballZ process in the playbook
    rss_kib: list[int] = field(default_factory=list)  # ru_maxrss of each module process
    packages: list[str] = field(default_factory=list)  # the HEAVY packages the module process imported

    @property
    def median(self) -> float:
        """Median wall time of the playbook runs."""
        return statistics.median(self.seconds)

    @property
    def process_seconds(self) -> float:
        """Median wall time of the module process on its own."""
        return statistics.median(self.process_runs)


# ------------------------------------------------------------------------------------------------
# Scenarios and their fixtures
# ------------------------------------------------------------------------------------------------

@dataclass
class Fixtures:
    """The servers and files the tasks reach: the sandbox, BIND, a CMG endpoint and a scratch directory."""

    sandbox: AzureSandbox
    bind: BindServer
    workdir: Path
    endpoint_port: int
    endpoint_ca: Path
    endpoint_files: dict[str, str]  # the endpoint's certificate, key and chain, for cmg_pfx


def scenarios(fixtures: Fixtures) -> list[Scenario]:
    """The tasks, with arguments that reach the sandbox, BIND, the endpoint and the sample PFX."""
    workdir, bind = fixtures.workdir, fixtures.bind
    sample = build_sample(workdir / "pki", SERVICE_NAME)
    report_names = {"service_name": SERVICE_NAME, "prefix": "granitefalls", "region": "westus",
                    "deployment_name": TARGET, "dns_zone": "contoso.test"}
    collection = "ansible_collections.configmgr.cmg.plugins.modules."
    endpoint = {"service_name": f"{ENDPOINT_PREFIX}.contoso.test", "port": fixtures.endpoint_port, "region": "westus",
                "nameservers": [bind.address], "ca_bundle": str(fixtures.endpoint_ca), "timeout": 5}
    return [
        Scenario("ping", "ansible.builtin.ping", {}, "ansible.modules.ping"),
        Scenario("cmg_cert_validate", "configmgr.cmg.cmg_cert_validate",
                 {**sample, "service_name": SERVICE_NAME, "region": "westus"}, collection + "cmg_cert_validate"),
        Scenario("cmg_name_available", "configmgr.cmg.cmg_name_available",
                 {"prefix": "benchcmg", "region": "westus", "content_enabled": True, "method": "arm"},
                 collection + "cmg_name_available"),
        Scenario("cmg_azure_readiness", "configmgr.cmg.cmg_azure_readiness",
                 {"prefix": "benchcmg", "region": "westus", "resource_group": "rg-bench", "vm_instances": 2},
                 collection + "cmg_azure_readiness"),
        Scenario("cmg_cname", "configmgr.cmg.cmg_cname",
                 {"service_name": SERVICE_NAME, "target": TARGET, "resource_group": DNS_GROUP, "nameservers": [bind.address],
                  "wait_timeout": 10}, collection + "cmg_cname"),
        Scenario("cmg_report", "configmgr.cmg.cmg_report",
                 {"dest": str(workdir / "reports"), "names": report_names,
                  "dns": {"changed": False, "record": {"fqdn": SERVICE_NAME.lower(), "target": TARGET, "ttl": 3600,
                                                       "zone": "contoso.test", "provider": "azure_dns"}}},
                 collection + "cmg_report"),
        Scenario("cmg_endpoint_info", "configmgr.cmg.cmg_endpoint_info", endpoint, collection + "cmg_endpoint_info"),
        Scenario("cmg_cert_request", "configmgr.cmg.cmg_cert_request",
                 {"service_name": SERVICE_NAME, "passphrase": "bench-Pa55phrase", "private_key_path": str(workdir / "cmg.key"),
                  "csr_path": str(workdir / "cmg.csr")}, collection + "cmg_cert_request"),
        Scenario("cmg_pfx", "configmgr.cmg.cmg_pfx",
                 {"path": str(workdir / "endpoint.pfx"), "password": "bench-Pa55word", **fixtures.endpoint_files},
                 collection + "cmg_pfx"),
        Scenario("cmg_monitor_report", "configmgr.cmg.cmg_monitor_report",
                 {"dest": str(workdir / "monitor"), "results": {}}, collection + "cmg_monitor_report"),
    ]


def prepare(fixtures: Fixtures, env: dict[str, str]) -> None:
    """The Azure DNS zone in the sandbox and the same CNAME on BIND, both written by cmg_cname itself."""
    sandbox, bind = fixtures.sandbox, fixtures.bind
    sandbox.seed({"dns": {"zones": [{"name": "contoso.test", "resourceGroup": DNS_GROUP, "records": []}]}})
    tasks = [
        {"name": "bind", "configmgr.cmg.cmg_cname": {
            "service_name": SERVICE_NAME, "target": TARGET, "provider": "rfc2136", "server": bind.host, "port": bind.port,
            "key_name": bind.key_name, "key_secret": bind.key_secret, "wait": False}},
        {"name": "azure", "configmgr.cmg.cmg_cname": {
            "service_name": SERVICE_NAME, "target": TARGET, "resource_group": DNS_GROUP, "wait": False}},
    ]
    run = run_playbook(play(tasks), env={**sandbox.env(), **env})
    if run.rc != 0:
        raise RuntimeError(f"preparing the CNAME failed:\n{run.stdout}\n{run.stderr}")


# ------------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------------

def rss_interpreter(workdir: Path, python: Path = BIN / "python") -> Path:
    """A Python interpreter for Ansible that runs ``python`` (this venv's by default) under GNU ``time`` and appends
    the peak RSS (KiB) of each module process (the AnsiballZ wrapper runs the module in its own process) to
    ``$CMG_BENCH_RSS_FILE``.

    Every task, ping included, goes through it, so its few milliseconds are part of the floor too.
    """
    wrapper = workdir / f"python-rss-{python.parent.parent.name}"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/time -q -f %M -a -o "$CMG_BENCH_RSS_FILE" {python} "$@"\n',
                       encoding="utf-8")
    wrapper.chmod(0o755)
    return wrapper


def time_playbook(sandbox: AzureSandbox, scenario: Scenario, measured: Measured, env: dict[str, str],
                  interpreter: Path | None = None) -> None:
    """One timed ansible-playbook run of the scenario's task; requests counted from the sandbox log; with
    ``interpreter`` (:func:`rss_interpreter`) the peak RSS of the task's module process."""
    sandbox.clear_requests()
    extra_vars, run_env = {}, {**sandbox.env(), **env}
    if interpreter is not None:
        rss_file = interpreter.parent / f"{scenario.label}.rss"
        rss_file.unlink(missing_ok=True)
        extra_vars = {"ansible_python_interpreter": str(interpreter)}
        run_env["CMG_BENCH_RSS_FILE"] = str(rss_file)
    started = time.monotonic()
    run = run_playbook(play([scenario.task()]), env=run_env, extra_vars=extra_vars)
    measured.seconds.append(time.monotonic() - started)
    if run.rc != 0:
        raise RuntimeError(f"{scenario.label} failed:\n{run.stdout}\n{run.stderr}")
    if interpreter is not None:
        measured.task_rss_kib.append(max(int(line) for line in rss_file.read_text(encoding="utf-8").split()))
    arm = sandbox.arm_requests()
    measured.tokens.append(len(sandbox.token_requests()))
    measured.arm.append(len(arm))
    measured.writes.append(len(sandbox.writes()))
    measured.connections.append(len({request.peer for request in list(sandbox.requests)}))
    measured.changed.append(bool(run.result(scenario.label).get("changed")))
    measured.sent = [f"{request.method} {request.path}" for request in list(sandbox.requests)]


def parse_importtime(stderr: str) -> dict[str, float]:
    """Import seconds of each :data:`HEAVY` package in ``python -X importtime`` output, and of all imports.

    A package's time is the sum of the *self* times of its modules: what importing that package's own
    code cost, without the packages it pulls in (so the numbers add up; ``total`` is every import).
    """
    found: dict[str, float] = {}
    total = 0.0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if not own.isdigit():
            continue
        total += int(own) / 1e6
        for package in HEAVY:
            if name == package or name.startswith(package + "."):
                found[package] = found.get(package, 0.0) + int(own) / 1e6
    return {**dict(sorted(found.items())), "total": total}


@dataclass
class ProcessRun:
    """One module process: wall time, imported modules, peak RSS, and the module's JSON result."""

    seconds: float
    modules: list[str]
    rss_kib: int
    result: dict[str, Any]
    importtime: dict[str, float]
    waits: dict[str, float] = field(default_factory=dict)  # with CMG_BENCH_WAITS=1: seconds waited, by kind


def module_process(sandbox: AzureSandbox, scenario: Scenario, workdir: Path, collections: Path,
                   importtime: bool = False) -> ProcessRun:
    """Run the module as AnsiballZ does, under :mod:`tests.benchmarks.harness`: its wall time, imported
    modules and peak RSS, and with ``importtime`` its heavy imports."""
    args_file = workdir / f"{scenario.label}.args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": scenario.args}), encoding="utf-8")
    stats_file = workdir / f"{scenario.label}.stats.json"
    stats_file.unlink(missing_ok=True)
    env = ansible_env(sandbox.env())
    env["PYTHONPATH"] = str(collections)
    command = [str(BIN / "python"), *(["-X", "importtime"] if importtime else []), str(HARNESS), str(stats_file),
               scenario.python_module, str(args_file)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=workdir)
    elapsed = time.monotonic() - started
    if done.returncode != 0 or '"failed": true' in done.stdout or not stats_file.exists():
        raise RuntimeError(f"{scenario.label} failed in its own process:\n{done.stdout}\n{done.stderr[-2000:]}")
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    return ProcessRun(elapsed, stats["modules"], stats["maxrss_kib"], json.loads(done.stdout),
                      parse_importtime(done.stderr) if importtime else {}, stats.get("waits", {}))


def heavy_packages(modules: list[str]) -> list[str]:
    """The :data:`HEAVY` packages among imported module names."""
    return [package for package in HEAVY if any(name == package or name.startswith(package + ".") for name in modules)]


def measure(fixtures: Fixtures, runs: int, collections: Path = COLLECTIONS,
            progress: Callable[[str], None] = lambda _text: None,
            between: Callable[[int], None] = lambda _run: None) -> list[Measured]:
    """Warm up every scenario, then time them round-robin ``runs`` times (so that a change in the machine's
    load hits every task alike): the playbook, then the module process; last, one ``-X importtime`` run each.

    ``between(run)`` is called once per round after the tasks (the caller interleaves its own figures there).
    """
    sandbox, workdir = fixtures.sandbox, fixtures.workdir
    env = {"ANSIBLE_COLLECTIONS_PATH": str(collections)}
    prepare(fixtures, env)
    cases = scenarios(fixtures)
    by_label = {scenario.label: scenario for scenario in cases}
    endpoint = module_process(sandbox, by_label["cmg_endpoint_info"], workdir, collections).result
    if endpoint.get("findings"):
        raise RuntimeError(f"the benchmark's CMG endpoint is not healthy: {endpoint['findings']}")
    by_label["cmg_monitor_report"].args["results"] = {"benchcmg": endpoint}
    results = [Measured(scenario.label) for scenario in cases]
    interpreter = rss_interpreter(workdir)
    for scenario in cases:
        time_playbook(sandbox, scenario, Measured(scenario.label), env, interpreter)  # warm-up: not counted
    for run in range(runs):
        progress(f"run {run + 1} of {runs}")
        for scenario, measured in zip(cases, results):
            time_playbook(sandbox, scenario, measured, env, interpreter)
            process = module_process(sandbox, scenario, workdir, collections)
            measured.process_runs.append(process.seconds)
            measured.module_counts.append(len(process.modules))
            measured.rss_kib.append(process.rss_kib)
            measured.packages = heavy_packages(process.modules)
        between(run)
    for scenario, measured in zip(cases, results):
        measured.heavy_imports = module_process(sandbox, scenario, workdir, collections, importtime=True).importtime
    return results


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

def problems(results: list[Measured]) -> list[str]:
    """Runs that did not take the expected path: a change, a write, more than one token request."""
    found = []
    for item in results:
        if any(item.changed):
            found.append(f"{item.label}: reported changed on a re-run")
        if any(item.writes):
            found.append(f"{item.label}: sent writes {item.writes}")
        if max(item.tokens) > 1:
            found.append(f"{item.label}: {max(item.tokens)} token requests in one run")
    return found


def counts(values: list[int]) -> str:
    """A count of every run: one number when all runs agree, else each run's (``1/2/1``)."""
    return str(values[0]) if len(set(values)) == 1 else "/".join(str(value) for value in values)


def uptime() -> str:
    """The machine's load, as ``uptime`` says it."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def as_table(results: list[Measured]) -> str:
    """A Markdown table of the results."""
    ping = results[0]
    lines = ["| task | median s | extra over ping s | module process s | tokens/run | ARM requests/run | writes/run "
             "| modules imported | peak RSS MiB | all imports s | heavy imports (s of own modules) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for item in results:
        heavy = ", ".join(f"{name} {seconds:.2f}" for name, seconds in item.heavy_imports.items() if name != "total") or "none"
        lines.append(f"| {item.label} | {item.median:.2f} | {item.median - ping.median:+.2f} | {item.process_seconds:.2f} "
                     f"| {counts(item.tokens)} | {counts(item.arm)} | {counts(item.writes)} "
                     f"| {statistics.median(item.module_counts):.0f} | {statistics.median(item.rss_kib) / 1024:.1f} "
                     f"| {item.heavy_imports.get('total', 0.0):.2f} | {heavy} |")
    return "\n".join(lines)


def as_json(results: list[Measured], name_checks: dict[str, Any]) -> dict[str, Any]:
    """The results as a JSON-able dict."""
    ping = results[0].median
    return {"tasks": [{"task": item.label, "median": round(item.median, 3), "extra_over_ping": round(item.median - ping, 3),
                       "runs": [round(value, 3) for value in item.seconds], "module_process": round(item.process_seconds, 3),
                       "module_process_runs": [round(value, 3) for value in item.process_runs],
                       "token_requests": item.tokens, "arm_requests": item.arm, "writes": item.writes,
                       "sent": item.sent, "heavy_imports": item.heavy_imports, "module_counts": item.module_counts,
                       "rss_kib": item.rss_kib, "task_rss_kib": item.task_rss_kib, "packages": item.packages} for item in results],
            "name_checks": name_checks}


@contextlib.contextmanager
def environment() -> Iterator[Fixtures]:
    """A sandbox, a named for contoso.test and cloudapp.azure.com, a healthy CMG endpoint and a scratch directory."""
    with AzureSandbox() as sandbox, running_named(ZONES) as bind, \
            tempfile.TemporaryDirectory(prefix="cmg-bench-") as workdir:
        directory = Path(workdir)
        endpoint_pki = cmg_pki(directory / "endpoint-pki")
        leaf = endpoint_pki.leaf(f"{ENDPOINT_PREFIX}.contoso.test")
        files = {"certificate": directory / "endpoint.crt", "private_key": directory / "endpoint.key",
                 "chain": directory / "endpoint-chain.pem"}
        files["certificate"].write_bytes(pem(leaf.cert))
        files["private_key"].write_bytes(pem(leaf.key))
        files["chain"].write_bytes(pem(endpoint_pki.issuing.cert))
        os.chmod(files["private_key"], 0o600)
        with TlsServer(leaf, endpoint_pki.chain_of(endpoint_pki.issuing)) as server:
            add_cmg(bind, ENDPOINT_PREFIX)
            yield Fixtures(sandbox, bind, directory, server.port, endpoint_pki.ca_bundle,
                           {"certificate": str(files["certificate"]), "private_key": str(files["private_key"]),
                            "chain": [str(files["chain"])], "ca_bundle": str(endpoint_pki.ca_bundle)})


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (or JSON) and the name-check latency line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed ansible-playbook runs per task")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--collections", type=Path, default=COLLECTIONS,
                        help="the directory holding ansible_collections/configmgr/cmg to measure (default: this tree)")
    args = parser.parse_args(argv)
    with environment() as fixtures:
        results = measure(fixtures, args.runs, args.collections.resolve(), lambda text: print(text, file=sys.stderr))
        fixtures.sandbox.reset()
        name_checks = measure_name_checks(fixtures.sandbox)
    if args.json:
        print(json.dumps(as_json(results, name_checks), indent=2))
    else:
        print(as_table(results))
        print()
        for item in results[1:]:
            if item.sent:
                print(f"{item.label} sends (last run, token service included): " + "; ".join(item.sent))
        print(name_checks_summary(name_checks))
    found = problems(results)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
