"""Benchmark: the monitor playbook over many CMGs in parallel (forks) against one CMG.

Starts a BIND 9 (contoso.test, cloudapp.azure.com) and one loopback TLS server per CMG, each behind
``cmgNN.contoso.test CNAME cmgNN.westus.cloudapp.azure.com``, then times ``ansible-playbook
configmgr.cmg.monitor -f FORKS`` over an inventory of one CMG and of ``--cmgs`` CMGs, interleaved,
``--runs`` times each. The target (issue 15): 20 CMGs with forks=10 take well under 20 times one CMG.

Run: ``.venv/bin/python -m tests.benchmarks.monitor [--cmgs 20] [--forks 10] [--runs 3] [--bound 10]``;
prints JSON and one line with the ratio of the medians; exits 1 when a run fails or the ratio reaches
``--bound``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.serialization import Encoding

import conftest  # noqa: F401  # pylint: disable=unused-import  # makes ansible_collections.configmgr.cmg importable

from tests.support.ansible import BIN, ansible_env
from tests.support.endpoints import TlsServer, add_cmg, cmg_bind, cmg_pki


def _inventory(path: Path, hosts: dict[str, dict[str, Any]], nameserver: str) -> Path:
    path.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python"),
                 "cmg_monitor_nameservers": [nameserver], "cmg_monitor_timeout": 5},
        "hosts": hosts}}), encoding="utf-8")
    return path


def _timed(inventory: Path, report_dir: Path, forks: int) -> float:
    command = [str(BIN / "ansible-playbook"), "configmgr.cmg.monitor", "-i", str(inventory), "-f", str(forks),
               "-e", f"cmg_monitor_report_dir={report_dir}"]
    started = time.monotonic()
    done = subprocess.run(command, env=ansible_env(), capture_output=True, text=True, check=False, timeout=900)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"the monitor playbook failed (rc {done.returncode}):\n{done.stdout[-3000:]}")
    return elapsed


def measure(cmgs: int = 20, forks: int = 10, runs: int = 3) -> dict[str, Any]:
    """Median wall time of the monitor over one CMG and over ``cmgs`` CMGs, and their ratio."""
    with tempfile.TemporaryDirectory(prefix="cmg-bench-monitor-") as tmp, cmg_bind() as bind:
        directory = Path(tmp)
        ca = cmg_pki(directory / "pki")
        servers, hosts = [], {}
        try:
            for index in range(cmgs):
                name = f"cmg{index:02d}"
                leaf = ca.leaf(f"{name}.contoso.test")
                server = TlsServer(leaf, (ca.issuing.cert,)).start()
                servers.append(server)
                add_cmg(bind, name)
                hosts[name] = {"cmg_service_name": f"{name}.contoso.test", "cmg_port": server.port,
                               "cmg_region": "westus", "cmg_ca_bundle": str(ca.ca_bundle),
                               "cmg_expected_thumbprint": hashlib.sha1(leaf.cert.public_bytes(Encoding.DER)).hexdigest()}
            one = _inventory(directory / "one.yml", {"cmg00": hosts["cmg00"]}, bind.address)
            many = _inventory(directory / "many.yml", hosts, bind.address)
            _timed(one, directory / "warm", forks)  # untimed: page cache, bytecode
            times: dict[str, list[float]] = {"one": [], "many": []}
            for run in range(runs):
                times["one"].append(_timed(one, directory / f"one-{run}", forks))
                times["many"].append(_timed(many, directory / f"many-{run}", forks))
        finally:
            for server in servers:
                server.stop()
    one_median, many_median = statistics.median(times["one"]), statistics.median(times["many"])
    return {"cmgs": cmgs, "forks": forks, "runs": runs, "one_cmg_s": [round(value, 2) for value in times["one"]],
            "many_cmgs_s": [round(value, 2) for value in times["many"]], "one_median_s": round(one_median, 2),
            "many_median_s": round(many_median, 2), "ratio": round(many_median / one_median, 2)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the timings as JSON plus one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cmgs", type=int, default=20)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bound", type=float, default=10.0, help="fail when many CMGs take this many times one")
    args = parser.parse_args(argv)
    timings = measure(args.cmgs, args.forks, args.runs)
    timings["bound"] = args.bound
    timings["ok"] = timings["ratio"] < args.bound
    print(json.dumps(timings))
    print(f"the monitor over {args.cmgs} CMGs with forks={args.forks} takes {timings['ratio']:.2f} times one CMG "
          f"({timings['many_median_s']:.2f} s vs {timings['one_median_s']:.2f} s, medians of {args.runs}; "
          f"target well under {args.cmgs}, bound {args.bound:g})")
    return 0 if timings["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
