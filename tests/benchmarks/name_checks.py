"""Benchmark: the three ARM name checks run concurrently.

With 0.5 s of latency on every Resource Manager request of the local sandbox, checking three names
(DNS label, Key Vault, storage account) must take well under 1 s more than checking one.

Run: ``.venv/bin/python -m tests.benchmarks.name_checks [--latency 0.5] [--rounds 3]``; prints JSON and the
line "three checks take X s more than one (target: well under 1 s)", and exits 1 when the extra time of
three checks over one reaches ``--bound`` seconds (default 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import conftest  # noqa: F401  # pylint: disable=unused-import  # makes ansible_collections.configmgr.cmg importable

from ansible_collections.configmgr.cmg.plugins.module_utils._availability import name_availability
from tests.support.azure_sandbox import AzureSandbox


def _timed(sandbox: AzureSandbox, checks: list[str]) -> float:
    """Seconds one module run takes for ``checks`` (a new session each time: token request included)."""
    options = {"prefix": "benchcmg", "region": "westus", "checks": checks}
    started = time.monotonic()
    result = name_availability(options, sandbox.env())
    elapsed = time.monotonic() - started
    if not result["available"] or sorted(result["resources"]) != sorted(checks):
        raise RuntimeError(f"unexpected benchmark result: {result}")
    return elapsed


def measure(sandbox: AzureSandbox, latency: float = 0.5, rounds: int = 3) -> dict[str, Any]:
    """Best-of-``rounds`` time of one check and of three checks, with ``latency`` per ARM request."""
    previous_ca = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = sandbox.ca_file
    sandbox.latency = latency
    try:
        one = min(_timed(sandbox, ["key_vault"]) for _round in range(rounds))
        three = min(_timed(sandbox, ["dns_label", "key_vault", "storage_account"]) for _round in range(rounds))
    finally:
        sandbox.latency = 0.0
        if previous_ca is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous_ca
    return {"latency": latency, "rounds": rounds, "one_check": round(one, 3), "three_checks": round(three, 3),
            "extra": round(three - one, 3)}


def summary(timings: dict[str, Any]) -> str:
    """The one-line verdict of :func:`measure`'s timings."""
    return (f"three checks take {timings['extra']:.3f} s more than one (target: well under 1 s; "
            f"{timings['latency']} s latency per ARM request, one check {timings['one_check']:.3f} s, "
            f"three {timings['three_checks']:.3f} s)")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark against a fresh sandbox and print the timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bound", type=float, default=1.0, help="fail when three checks take this much longer than one")
    args = parser.parse_args(argv)
    with AzureSandbox() as sandbox:
        timings = measure(sandbox, args.latency, args.rounds)
    timings["bound"] = args.bound
    timings["ok"] = timings["extra"] < args.bound
    print(json.dumps(timings))
    print(summary(timings))
    return 0 if timings["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
