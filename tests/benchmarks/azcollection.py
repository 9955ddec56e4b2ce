"""Benchmark: ``cmg_cname`` against azure.azcollection's ``azure_rm_dnsrecordset`` for the same CNAME.

Not part of ``make test`` or ``make bench``'s gate: ``make bench-azcollection`` runs it.

azure.azcollection is not installed from Galaxy (unreachable here) but from PyPI: the ``ansible`` community
package bundles it. The benchmark downloads that wheel (``pip download ansible==ANSIBLE_PACKAGE --no-deps``),
unpacks only ``ansible_collections/azure/azcollection`` to ``.build/azcollection/collections`` and installs
the collection's ``requirements.txt`` (62 packages, 55 pinned exactly: azure-cli-core, azure-mgmt-dns, azure-core...,
which conflict with this project's lower bounds) with the same ansible-core as ``.venv`` into its own virtual
environment, ``.build/azcollection/venv``. Both are reused while the marker file says they were made for the same
``ansible`` package and ansible-core.

Then it starts the local Azure sandbox, seeds the zone ``contoso.test`` (resource group ``rg-dns``), creates the
CNAME ``granitefalls -> granitefalls.westus.cloudapp.azure.com`` (TTL 3600) with ``cmg_cname`` and times
interleaved rounds of one-task ``ansible-playbook`` runs, each with its own venv's ``ansible-playbook`` (the
implicit localhost runs the module with the Python that runs Ansible):

* ``ansible.builtin.ping`` under ``.venv`` (the floor) and under the azcollection venv (the same ansible-core),
* ``configmgr.cmg.cmg_cname`` (provider ``azure_dns``, the record in place, ``wait: false``),
* ``azure.azcollection.azure_rm_dnsrecordset`` (``state: present``, the same record in place, ``disable_instance_discovery``
  as its documentation says for private clouds: MSAL would otherwise ask login.microsoftonline.com about the sandbox).

azure.azcollection 3.12.0 cannot resolve a URL ``AZURE_CLOUD_ENVIRONMENT`` with its pinned azure-cli-core: the module
process gets the one missing function from :mod:`tests.benchmarks.azcollection_shim` (see its docstring), and the
sandbox is told to serve the DNS api-version the collection pins (``dns_api_versions``: 2023-07-01-preview).

Both Azure tasks get their credentials as AWX's Azure credential injects them (``AzureSandbox.env()``:
``AZURE_CLIENT_ID``, ``AZURE_SECRET``, ``AZURE_TENANT``, ``AZURE_SUBSCRIPTION_ID``, ``AZURE_CLOUD_ENVIRONMENT``
the sandbox's URL, ``REQUESTS_CA_BUNDLE``). Per run: the playbook's wall time, the peak RSS of the module
process (Ansible's interpreter is a wrapper running Python under GNU ``time``), and from the sandbox's request
log the requests it sent (token service, metadata, Resource Manager, writes) and the TCP connections. After each
playbook run the module runs again on its own, as AnsiballZ runs it, under :mod:`tests.benchmarks.harness` (its wall
time without Ansible's controller, peak RSS and imported modules). The first run of each task is untimed. It
prints a table and the requests of each task's last run, writes ``.build/bench/azcollection.json``, and exits 1
when a task fails, reports a change or writes.

Run: ``make bench-azcollection`` or ``.venv/bin/python -m tests.benchmarks.azcollection [--runs 7]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.benchmarks.task_overhead import counts, rss_interpreter, uptime
from tests.support.ansible import BIN, COLLECTIONS, ROOT, ansible_env, play
from tests.support.azure_sandbox import AzureSandbox

#: The ``ansible`` community package whose bundled azure.azcollection is measured (3.12.0 in 12.3.0).
ANSIBLE_PACKAGE = "12.3.0"
WORK = ROOT / ".build" / "azcollection"
VENV = WORK / "venv"
AZ_COLLECTIONS = WORK / "collections"
AZ_PATH = "ansible_collections/azure/azcollection/"
OUTPUT = ROOT / ".build" / "bench" / "azcollection.json"
#: sitecustomize adding the one function azure.azcollection calls that azure-cli-core lacks (see its docstring).
SHIM = Path(__file__).resolve().parent / "azcollection_shim"
HARNESS = Path(__file__).resolve().parent / "harness.py"

ZONE = "contoso.test"
GROUP = "rg-dns"
RECORD = "granitefalls"
SERVICE_NAME = "GraniteFalls.contoso.test"
TARGET = "granitefalls.westus.cloudapp.azure.com"
TTL = 3600


# ------------------------------------------------------------------------------------------------
# The azcollection's own virtual environment
# ------------------------------------------------------------------------------------------------

def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def ensure_azcollection(log: Any = print) -> dict[str, str]:
    """The azcollection unpacked and its venv installed (reused when the marker matches); their versions."""
    core = metadata.version("ansible-core")
    marker = VENV / ".installed"
    wanted = f"ansible=={ANSIBLE_PACKAGE} ansible-core=={core}"
    if not (marker.exists() and marker.read_text(encoding="utf-8").strip() == wanted):
        download = WORK / "download"
        wheel = download / f"ansible-{ANSIBLE_PACKAGE}-py3-none-any.whl"
        if not wheel.exists():
            log(f"downloading ansible=={ANSIBLE_PACKAGE} (the wheel that bundles azure.azcollection) from PyPI")
            _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(download),
                  f"ansible=={ANSIBLE_PACKAGE}"], "pip download")
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.startswith(AZ_PATH)]
            if not members:
                raise RuntimeError(f"{wheel.name} carries no {AZ_PATH}")
            archive.extractall(AZ_COLLECTIONS, members=members)
        if not (VENV / "bin" / "python").exists():
            _run([sys.executable, "-m", "venv", str(VENV)], "creating the azcollection venv")
        log(f"installing ansible-core=={core} and azure.azcollection's requirements into {VENV} (a few minutes)")
        _run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], "pip upgrade")
        _run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", f"ansible-core=={core}",
              "-r", str(AZ_COLLECTIONS / AZ_PATH / "requirements.txt")], "installing azure.azcollection's requirements")
        marker.write_text(wanted + "\n", encoding="utf-8")
    manifest = json.loads((AZ_COLLECTIONS / AZ_PATH / "MANIFEST.json").read_text(encoding="utf-8"))
    return {"ansible_package": ANSIBLE_PACKAGE, "azure.azcollection": manifest["collection_info"]["version"],
            "ansible-core": core, "configmgr.cmg": _galaxy_version(),
            "azcollection venv": _versions(VENV / "bin" / "python",
                                           ("azure-mgmt-dns", "azure-core", "azure-identity", "azure-cli-core", "msal")),
            ".venv": _versions(BIN / "python", ("azure-mgmt-dns", "azure-core", "azure-identity", "msal"))}


def _galaxy_version() -> str:
    for line in (ROOT / "galaxy.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip()
    return "?"


def _versions(python: Path, packages: tuple[str, ...]) -> str:
    code = "import sys\nfrom importlib import metadata\nprint(', '.join(p + ' ' + metadata.version(p) for p in sys.argv[1:]))"
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip()[-200:]


# ------------------------------------------------------------------------------------------------
# Tasks and runs
# ------------------------------------------------------------------------------------------------

@dataclass
class Task:
    """One task to time, with the venv whose ansible-playbook runs it and the collections it sees."""

    label: str
    module: str
    args: dict[str, Any]
    bin_dir: Path
    collections: Path
    python_module: str  # what AnsiballZ runs: the module process alone runs it under tests/benchmarks/harness.py
    environment: dict[str, str] = field(default_factory=dict)  # the task's ``environment``: the module process only
    process_seconds: list[float] = field(default_factory=list)
    process_rss_kib: list[int] = field(default_factory=list)
    process_modules: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    arm: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


def tasks() -> list[Task]:
    """ping under each venv, cmg_cname and azure_rm_dnsrecordset for the same record in place."""
    az_bin, ping = VENV / "bin", "ansible.modules.ping"
    return [
        Task("ping", "ansible.builtin.ping", {}, BIN, COLLECTIONS, ping),
        Task("ping (azcollection venv)", "ansible.builtin.ping", {}, az_bin, AZ_COLLECTIONS, ping),
        Task("cmg_cname", "configmgr.cmg.cmg_cname",
             {"service_name": SERVICE_NAME, "target": TARGET, "provider": "azure_dns", "resource_group": GROUP,
              "ttl": TTL, "wait": False}, BIN, COLLECTIONS, "ansible_collections.configmgr.cmg.plugins.modules.cmg_cname"),
        Task("azure_rm_dnsrecordset", "azure.azcollection.azure_rm_dnsrecordset",
             {"resource_group": GROUP, "zone_name": ZONE, "relative_name": RECORD, "record_type": "CNAME",
              "state": "present", "time_to_live": TTL, "records": [{"entry": TARGET}],
              "disable_instance_discovery": True}, az_bin, AZ_COLLECTIONS,
             "ansible_collections.azure.azcollection.plugins.modules.azure_rm_dnsrecordset", {"PYTHONPATH": str(SHIM)}),
    ]


def run_task(sandbox: AzureSandbox, task: Task, workdir: Path, timed: bool = True) -> None:
    """One ansible-playbook run of ``task`` with its venv's ansible-playbook; records time, RSS and requests."""
    playbook = workdir / f"{task.label.split()[0]}-{task.bin_dir.parent.name}.yml"
    entry: dict[str, Any] = {"name": task.label, task.module: task.args}
    if task.environment:
        entry["environment"] = task.environment
    playbook.write_text(play([entry]), encoding="utf-8")
    rss_file, results_file = workdir / "rss", workdir / "results.jsonl"
    rss_file.unlink(missing_ok=True)
    results_file.unlink(missing_ok=True)
    env = ansible_env(sandbox.env())
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(task.collections), "PATH": f"{task.bin_dir}{os.pathsep}{env['PATH']}",
                "CMG_BENCH_RSS_FILE": str(rss_file), "RECORD_RESULTS_FILE": str(results_file)})
    interpreter = rss_interpreter(workdir, task.bin_dir / "python")
    command = [str(task.bin_dir / "ansible-playbook"), str(playbook), "-e", f"ansible_python_interpreter={interpreter}"]
    sandbox.clear_requests()
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=workdir)
    elapsed = time.monotonic() - started
    results = [json.loads(line) for line in results_file.read_text(encoding="utf-8").splitlines()] \
        if results_file.exists() else []
    if done.returncode != 0 or not results:
        sent = "\n".join(f"  {r.method} {r.path}?{'&'.join(f'{k}={v}' for k, v in r.query.items())}"
                         for r in list(sandbox.requests))
        raise RuntimeError(f"{task.label} failed (rc {done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}\n"
                           f"requests it sent to the sandbox:\n{sent}")
    if not timed:
        return
    requests = list(sandbox.requests)
    task.seconds.append(elapsed)
    task.rss_kib.append(max(int(line) for line in rss_file.read_text(encoding="utf-8").split()))
    task.requests.append(len(requests))
    task.tokens.append(len(sandbox.token_requests()))
    task.arm.append(len(sandbox.arm_requests()))
    task.writes.append(len(sandbox.writes()))
    task.connections.append(len({request.peer for request in requests}))
    task.changed.append(bool(results[-1]["result"].get("changed")))
    task.sent = [f"{r.method} {r.path}" + (f"?api-version={r.query['api-version']}" if "api-version" in r.query else "")
                 for r in requests]


def module_process(sandbox: AzureSandbox, task: Task, workdir: Path) -> None:
    """The module alone, as AnsiballZ runs it (``python -m <module> <args file>``, the collection on ``PYTHONPATH``),
    under :mod:`tests.benchmarks.harness`: wall time, peak RSS (``VmHWM``) and the number of imported modules."""
    args_file, stats_file = workdir / "args.json", workdir / "stats.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": task.args}), encoding="utf-8")
    stats_file.unlink(missing_ok=True)
    env = ansible_env(sandbox.env())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(task.collections), task.environment.get("PYTHONPATH")]))
    command = [str(task.bin_dir / "python"), str(HARNESS), str(stats_file), task.python_module, str(args_file)]
    sandbox.clear_requests()
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=workdir)
    elapsed = time.monotonic() - started
    if done.returncode != 0 or '"failed": true' in done.stdout or not stats_file.exists():
        raise RuntimeError(f"{task.label} failed in its own process:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    task.process_seconds.append(elapsed)
    task.process_rss_kib.append(stats["maxrss_kib"])
    task.process_modules.append(len(stats["modules"]))


def prepare(sandbox: AzureSandbox, workdir: Path) -> None:
    """The zone in the sandbox and the CNAME in it, written by cmg_cname itself."""
    sandbox.seed({"dns": {"zones": [{"name": ZONE, "resourceGroup": GROUP, "records": []}]},
                  "dns_api_versions": ["2023-07-01-preview"]})  # azure.azcollection's DnsManagementClient pins it
    create = tasks()[2]
    run_task(sandbox, create, workdir, timed=False)
    if len(sandbox.writes()) != 1:
        raise RuntimeError(f"cmg_cname did not create the CNAME: {[r.path for r in sandbox.writes()]}")


def measure(sandbox: AzureSandbox, runs: int, workdir: Path, progress: Any = print) -> list[Task]:
    """Warm-up (untimed), then ``runs`` interleaved rounds of every task."""
    prepare(sandbox, workdir)
    cases = tasks()
    for task in cases:
        run_task(sandbox, task, workdir, timed=False)
    for round_number in range(runs):
        progress(f"round {round_number + 1} of {runs}")
        for task in cases:
            run_task(sandbox, task, workdir)
            module_process(sandbox, task, workdir)
    return cases


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

def _spread(values: list[float], floor: list[float], fmt: str) -> str:
    ratio = statistics.median(values) / statistics.median(floor)
    return f"{format(statistics.median(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}] ({ratio:.2f}x)"


def as_table(cases: list[Task]) -> str:
    """Markdown: median [min-max] (ratio to ping under .venv) of each figure, and the counts."""
    ping = cases[0]
    lines = ["| task | playbook s (x ping) | peak RSS MiB of the module process (x ping) | module process alone s (x ping) "
             "| modules imported | requests/run (token service+metadata / Resource Manager / writes) | TCP connections/run |",
             "|---|---|---|---|---|---|---|"]
    for task in cases:
        other = [a - b for a, b in zip(task.requests, task.arm)]
        lines.append(f"| {task.label} | {_spread(task.seconds, ping.seconds, '.2f')} "
                     f"| {_spread([v / 1024 for v in task.rss_kib], [v / 1024 for v in ping.rss_kib], '.1f')} "
                     f"| {_spread(task.process_seconds, ping.process_seconds, '.2f')} | {counts(task.process_modules)} "
                     f"| {counts(task.requests)} ({counts(other)} / {counts(task.arm)} / {counts(task.writes)}) "
                     f"| {counts(task.connections)} |")
    return "\n".join(lines)


def as_json(cases: list[Task], about: dict[str, Any]) -> dict[str, Any]:
    """Every run and the medians."""
    ping = cases[0]
    items = []
    for task in cases:
        items.append({"task": task.label, "module": task.module, "args": task.args, "venv": str(task.bin_dir.parent),
                      "seconds": {"median": round(statistics.median(task.seconds), 3), "min": round(min(task.seconds), 3),
                                  "max": round(max(task.seconds), 3), "runs": [round(v, 3) for v in task.seconds],
                                  "ratio_to_ping": round(statistics.median(task.seconds) / statistics.median(ping.seconds), 3)},
                      "rss_kib": {"median": statistics.median(task.rss_kib), "runs": task.rss_kib,
                                  "ratio_to_ping": round(statistics.median(task.rss_kib) / statistics.median(ping.rss_kib), 3)},
                      "module_process": {"median": round(statistics.median(task.process_seconds), 3),
                                         "runs": [round(v, 3) for v in task.process_seconds],
                                         "ratio_to_ping": round(statistics.median(task.process_seconds)
                                                                / statistics.median(ping.process_seconds), 3),
                                         "rss_kib": task.process_rss_kib, "modules_imported": task.process_modules},
                      "requests": task.requests, "token_requests": task.tokens, "arm_requests": task.arm,
                      "writes": task.writes, "connections": task.connections, "changed": task.changed,
                      "sent_last_run": task.sent})
    return {**about, "tasks": items}


def problems(cases: list[Task]) -> list[str]:
    """A re-run that changed or wrote: the comparison is then not of the idempotent path."""
    found = []
    for task in cases:
        if any(task.changed):
            found.append(f"{task.label}: reported changed on a re-run")
        if any(task.writes):
            found.append(f"{task.label}: sent writes {task.writes}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Install (or reuse) the azcollection venv, run the rounds, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interleaved timed rounds (default 7)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"the JSON results (default {OUTPUT})")
    args = parser.parse_args(argv)
    versions = ensure_azcollection(lambda text: print(text, file=sys.stderr))
    about: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "uptime_before": uptime()},
        "versions": versions}
    with AzureSandbox() as sandbox, tempfile.TemporaryDirectory(prefix="cmg-bench-azcoll-") as workdir:
        cases = measure(sandbox, args.runs, Path(workdir), lambda text: print(text, file=sys.stderr))
    about["machine"]["uptime_after"] = uptime()
    results = as_json(cases, about)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{about['when']}, {args.runs} interleaved rounds, {about['machine']['cpus']} CPUs, Python "
          f"{about['machine']['python']}; " + "; ".join(f"{key}: {value}" for key, value in versions.items()))
    print(f"load before: {about['machine']['uptime_before']}\nload after:  {about['machine']['uptime_after']}\n")
    print(as_table(cases))
    print()
    for task in cases[2:]:
        print(f"{task.label} sends (last run): " + "; ".join(task.sent))
    print(f"\nwritten: {args.output}")
    found = problems(cases)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
