"""Benchmark-only harness: run one module as AnsiballZ does and record what its process cost.

``python harness.py STATS_FILE MODULE ARGS_FILE`` runs ``MODULE`` as ``__main__`` with ``ARGS_FILE`` as
its argument (as ``python -m MODULE ARGS_FILE`` would) and, when the module exits (``exit_json`` and
``fail_json`` end in ``sys.exit``), writes to ``STATS_FILE`` the names of every imported module
(``sys.modules``) and the peak resident set size of the process: ``VmHWM`` of ``/proc/self/status`` (KiB), the
high-water mark of this program's own memory. (``ru_maxrss`` is no use here: Linux keeps it across ``execve``,
so a child forked from a large benchmark process reports its parent's size.)

With ``CMG_BENCH_WAITS=1`` in the environment it also adds up the time the module spends waiting for others:
in HTTP requests (``requests``' adapter: the ACME CA), in DNS messages (``dns.query``: updates and
propagation queries) and in ``time.sleep`` (polling), written as ``waits``; the ACME benchmark subtracts
them from the wall time to get the client-side time. This patches those functions, so it is off for
every other figure.
The harness adds the same few standard modules (``runpy``, ``resource``) to every module it runs, so
counts and sizes compare across modules; it is never part of the collection.
"""

import atexit
import json
import os
import resource
import runpy
import sys
import time

WAITS = {"http": 0.0, "dns": 0.0, "sleep": 0.0}


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def _write_stats(path: str) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        json.dump({"modules": sorted(sys.modules), "maxrss_kib": _peak_rss_kib(), "waits": WAITS}, stream)


def _timed(kind, function):
    def wrapper(*args, **kwargs):
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            WAITS[kind] += time.monotonic() - started
    return wrapper


def _probe_waits() -> None:
    import dns.query  # pylint: disable=import-outside-toplevel
    import requests.adapters  # pylint: disable=import-outside-toplevel

    requests.adapters.HTTPAdapter.send = _timed("http", requests.adapters.HTTPAdapter.send)
    for name in ("udp", "tcp", "udp_with_fallback", "https"):
        if hasattr(dns.query, name):
            setattr(dns.query, name, _timed("dns", getattr(dns.query, name)))
    time.sleep = _timed("sleep", time.sleep)


def main() -> None:
    stats, module, args_file = sys.argv[1:4]
    atexit.register(_write_stats, stats)
    if os.environ.get("CMG_BENCH_WAITS") == "1":
        _probe_waits()
    sys.argv = [module, args_file]
    del sys.path[0]  # the harness's own directory: the module sees the path ``python -m`` would give it
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
