"""``make bench``: every speed figure of the collection, against its floor, gated by the targets of issue 16.

One run measures, interleaved round by round (so a change in the machine's load hits every figure alike):

* each module task as a one-task ``ansible-playbook`` run, against ``ansible.builtin.ping``
  (:mod:`tests.benchmarks.task_overhead`), with the peak RSS of its AnsiballZ process (the interpreter runs
  under GNU ``time``), and its module process on its own under :mod:`tests.benchmarks.harness`: wall time,
  imported modules, peak RSS;
* the ``prepare`` role re-run on a state where everything is in place, against a playbook of as many
  ping tasks (:mod:`tests.benchmarks.role_rerun`), with every request it sent to the Azure sandbox;

then, apart: the three name checks against one at 0.5 s latency per Resource Manager request
(:mod:`tests.benchmarks.name_checks`) and the client-side time of an ACME issuance against Pebble and BIND
(wall time minus the time spent in HTTP requests to the CA, DNS messages and sleeps).

Load-independent figures sit beside the timings: imported modules, peak RSS, requests per task, and the size of the
collection's code in each task's payload (:mod:`tests.support.payload`: the controller parses it and the module's
process compiles it on every task).
It writes ``.build/bench/results.json``, prints a table (median, min, max, ratio to the floor) and exits 1
when a target is missed or a task did not take its expected path (changed on a re-run, wrote, more than
one token). The machine's ``uptime`` before and after goes into the results: timings on a loaded machine
are noise, the counts are not.

Run: ``make bench`` or ``.venv/bin/python -m tests.benchmarks.bench [--runs 7] [--output PATH]``.
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
from pathlib import Path
from typing import Any

from tests.benchmarks import task_overhead
from tests.benchmarks.name_checks import measure as measure_name_checks
from tests.benchmarks.role_rerun import RoleRerun, role_rerun
from tests.support.ansible import BIN, COLLECTIONS, ROOT, ansible_env
from tests.support.payload import shipped
from tests.support.pebble import running_pebble

#: Targets of issue 16.
TASK_RATIO = 1.3  # each module task's playbook median over ping's
ROLE_RATIO = 1.5  # the prepare re-run's median over a playbook of as many ping tasks
RSS_RATIO = 1.2  # each module process's peak RSS over ping's
NAME_CHECKS_EXTRA = 0.25  # seconds three name checks may take over one at 0.5 s latency
OUTPUT = ROOT / ".build" / "bench" / "results.json"


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def figure(name: str, values: list[float], floor: list[float] | None, unit: str, target: float | None = None,
           floor_name: str = "ping") -> dict[str, Any]:
    """One figure: its spread, its ratio to the floor's median (and per round), and its verdict."""
    item: dict[str, Any] = {"figure": name, "unit": unit, **spread(values), "runs": [round(value, 3) for value in values]}
    if floor:
        item["floor"] = floor_name
        item["floor_median"] = round(statistics.median(floor), 3)
        item["ratio"] = round(statistics.median(values) / statistics.median(floor), 3)
        per_round = [value / base for value, base in zip(values, floor)]
        item["round_ratios"] = spread(per_round)
    if target is not None:
        item["target"] = target
        item["ok"] = item["ratio"] <= target
    return item


def acme_client_side(fixtures: task_overhead.Fixtures, runs: int) -> dict[str, Any]:
    """``cmg_cert_acme`` renewing a certificate from Pebble over DNS-01 in BIND, ``runs`` times: wall time, and
    wall time minus what it waited for (HTTP to the CA, DNS messages, sleeps) from the harness's probes."""
    bind, workdir = fixtures.bind, fixtures.workdir / "acme"
    workdir.mkdir()
    service = "acmecmg.contoso.test"
    collection = "ansible_collections.configmgr.cmg.plugins.modules."
    with running_pebble(bind.address) as pebble:
        request = task_overhead.Scenario("acme_csr", "", {
            "service_name": service, "passphrase": "bench-Pa55phrase", "private_key_path": str(workdir / "cmg.key"),
            "csr_path": str(workdir / "cmg.csr")}, collection + "cmg_cert_request")
        task_overhead.module_process(fixtures.sandbox, request, workdir, COLLECTIONS)
        acme = task_overhead.Scenario("cmg_cert_acme", "", {
            "directory_url": pebble.directory_url, "ca_path": pebble.ca_path,
            "account_key_path": str(workdir / "account.key"), "account_email": "pki@contoso.test", "terms_agreed": True,
            "csr_path": str(workdir / "cmg.csr"), "certificate_path": str(workdir / "cmg.crt"),
            "chain_path": str(workdir / "chain.crt"), "provider": "rfc2136", "server": bind.host, "port": bind.port,
            "key_name": bind.key_name, "key_secret": bind.key_secret, "wait_interval": 0.1,
            "remaining_days": 365}, collection + "cmg_cert_acme")  # always due: every run is an issuance
        os.environ["CMG_BENCH_WAITS"] = "1"
        try:
            task_overhead.module_process(fixtures.sandbox, acme, workdir, COLLECTIONS)  # warm-up: the account
            done = [task_overhead.module_process(fixtures.sandbox, acme, workdir, COLLECTIONS) for _run in range(runs)]
        finally:
            del os.environ["CMG_BENCH_WAITS"]
    if not all(run.result.get("changed") for run in done):
        raise RuntimeError("cmg_cert_acme did not renew in every run")
    waits = [run.waits for run in done]
    return {"figure": "cmg_cert_acme client-side", "unit": "s",
            **spread([run.seconds - sum(wait.values()) for run, wait in zip(done, waits)]),
            "wall": spread([run.seconds for run in done]),
            "waited": {kind: spread([wait[kind] for wait in waits]) for kind in ("http", "dns", "sleep")},
            "modules": len(done[-1].modules), "rss_kib": done[-1].rss_kib}


def measure(runs: int) -> dict[str, Any]:
    """Every figure; see the module's docstring."""
    results: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "ansible_core": subprocess.run([str(BIN / "ansible"), "--version"], capture_output=True, text=True,
                                                   env=ansible_env(), check=False).stdout.splitlines()[0],
                    "uptime_before": task_overhead.uptime()},
        "runs": runs,
    }
    with task_overhead.environment() as fixtures, role_rerun() as role:
        role.warm_up()
        tasks = task_overhead.measure(fixtures, runs, COLLECTIONS, lambda text: print(text, file=sys.stderr),
                                      between=lambda _run: role.round())
        fixtures.sandbox.reset()
        name_checks = measure_name_checks(fixtures.sandbox)
        acme = acme_client_side(fixtures, max(3, runs // 2))
    results["machine"]["uptime_after"] = task_overhead.uptime()
    results["tasks"] = task_results(tasks)
    results["role"] = role_results(role)
    results["name_checks"] = {**name_checks, "target_extra": NAME_CHECKS_EXTRA, "ok": name_checks["extra"] <= NAME_CHECKS_EXTRA}
    results["acme"] = acme
    results["problems"] = task_overhead.problems(tasks) + role_problems(role)
    results["ok"] = not results["problems"] and not missed(results)
    return results


def task_results(tasks: list[task_overhead.Measured]) -> list[dict[str, Any]]:
    """Per task: playbook, module process, imported modules, RSS, requests."""
    ping = tasks[0]
    found = []
    for item in tasks:
        is_ping = item is ping
        found.append({
            "task": item.label,
            "playbook": figure("playbook", item.seconds, ping.seconds, "s", None if is_ping else TASK_RATIO),
            "module_process": figure("module process", item.process_runs, ping.process_runs, "s"),
            "modules_imported": figure("modules imported", [float(n) for n in item.module_counts],
                                       [float(n) for n in ping.module_counts], "modules"),
            "rss": figure("peak RSS", [kib / 1024 for kib in item.task_rss_kib], [kib / 1024 for kib in ping.task_rss_kib],
                          "MiB", None if is_ping else RSS_RATIO),
            "rss_module_process": figure("peak RSS of the module process alone", [kib / 1024 for kib in item.rss_kib],
                                         [kib / 1024 for kib in ping.rss_kib], "MiB"),
            "payload_kib": round(sum(shipped(item.label).values()) / 1024, 1),
            "heavy_packages": item.packages, "import_seconds": item.heavy_imports,
            "token_requests": item.tokens, "arm_requests": item.arm, "writes": item.writes,
            "connections": item.connections, "sent": item.sent,
        })
    return found


def role_results(role: RoleRerun) -> dict[str, Any]:
    """The prepare re-run against its ping playbook, with its requests."""
    return {"tasks": role.tasks, "skipped": role.skipped,
            "playbook": figure("prepare re-run", role.seconds, role.ping_seconds, "s", ROLE_RATIO,
                               f"{role.tasks} ping tasks"),
            "requests": role.requests, "arm_requests": role.arm, "token_requests": role.tokens, "writes": role.writes,
            "connections": role.connections, "sent": role.sent}


def role_problems(role: RoleRerun) -> list[str]:
    """A re-run that changed or wrote something."""
    found = [f"prepare re-run: changed {changed}" for changed in role.changed if changed]
    if any(role.writes):
        found.append(f"prepare re-run: sent writes {role.writes}")
    return found


def missed(results: dict[str, Any]) -> list[str]:
    """Every target missed, one line each."""
    lines = []
    for task in results["tasks"]:
        for key in ("playbook", "rss"):
            item = task[key]
            if item.get("ok") is False:
                lines.append(f"{task['task']} {item['figure']}: {item['ratio']:.2f}x {item['floor']} (target {item['target']}x)")
    role = results["role"]["playbook"]
    if not role["ok"]:
        lines.append(f"prepare re-run: {role['ratio']:.2f}x {role['floor']} (target {role['target']}x)")
    checks = results["name_checks"]
    if not checks["ok"]:
        lines.append(f"three name checks: {checks['extra']:.3f} s over one (target {checks['target_extra']} s)")
    return lines


def _cell(item: dict[str, Any], digits: int = 2) -> str:
    ratio = f" ({item['ratio']:.2f}x{'' if item.get('ok', True) else ' MISSED'})" if "ratio" in item else ""
    return f"{item['median']:.{digits}f} [{item['min']:.{digits}f}-{item['max']:.{digits}f}]{ratio}"


def as_table(results: dict[str, Any]) -> str:
    """The Markdown table of the results: median [min-max] (ratio to the floor)."""
    lines = [f"{results['when']}, {results['runs']} interleaved rounds, {results['machine']['cpus']} CPUs, "
             f"{results['machine']['ansible_core']}, Python {results['machine']['python']}",
             f"load before: {results['machine']['uptime_before']}", f"load after:  {results['machine']['uptime_after']}",
             "",
             "| task | playbook s (x ping, target 1.3) | module process s (x ping) | modules imported (x ping) "
             "| peak RSS MiB in the playbook (x ping, target 1.2) | peak RSS MiB alone (x ping) | tokens/ARM requests/connections per run "
             "| the collection's code in the payload, KiB |",
             "|---|---|---|---|---|---|---|---|"]
    for task in results["tasks"]:
        lines.append(f"| {task['task']} | {_cell(task['playbook'])} | {_cell(task['module_process'])} "
                     f"| {_cell(task['modules_imported'], 0)} | {_cell(task['rss'], 1)} | {_cell(task['rss_module_process'], 1)} "
                     f"| {max(task['token_requests'])}/{max(task['arm_requests'])}/{max(task['connections'])} | {task['payload_kib']:.0f} |")
    role = results["role"]
    lines += ["", f"prepare re-run ({role['tasks']} tasks run, {role['skipped']} skipped): {_cell(role['playbook'])} s; "
              f"{role['playbook']['floor']}: {role['playbook']['floor_median']:.2f} s; target 1.5x; "
              f"requests to Azure per re-run: {max(role['requests'])} ({max(role['token_requests'])} token, "
              f"{max(role['arm_requests'])} Resource Manager, {max(role['writes'])} writes) over "
              f"{max(role['connections'])} TCP connections"]
    checks = results["name_checks"]
    lines.append(f"name checks at {checks['latency']} s latency: one {checks['one_check']:.3f} s, three "
                 f"{checks['three_checks']:.3f} s, extra {checks['extra']:.3f} s (target at most {checks['target_extra']} s)")
    acme = results["acme"]
    lines.append(f"cmg_cert_acme issuance: client-side {_cell(acme)} s of {_cell(acme['wall'])} s wall (waited: "
                 + ", ".join(f"{kind} {value['median']:.2f} s" for kind, value in acme["waited"].items()) + ")")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, write the JSON, print the table and the missed targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    results = measure(args.runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(as_table(results))
    print(f"\nwritten: {args.output}")
    for line in results["problems"] + missed(results):
        print(f"TARGET MISSED OR PROBLEM: {line}", file=sys.stderr)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
