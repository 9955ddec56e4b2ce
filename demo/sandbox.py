# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local Azure sandbox as a background process, for ``make demo`` and the molecule scenario.

    python demo/sandbox.py start --seed demo/seed.json --dir DIR   # returns once it serves
    python demo/sandbox.py stop --dir DIR

``start`` runs ``python -m tests.support.azure_sandbox`` in its own session (it outlives the caller,
as molecule's create step needs), waits until it has written ``DIR/info.json`` (url, ca_file, env,
pid) and prints that file. ``stop`` ends the process named there and waits for it. Python callers
use :func:`running` (a context manager that always stops it) and :class:`SandboxProcess`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
INFO = "info.json"
LOG = "sandbox.log"


class SandboxProcess:
    """A running sandbox process, known by its info file."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info

    @property
    def url(self) -> str:
        """The Resource Manager (and login) endpoint."""
        return str(self.info["url"])

    @property
    def pid(self) -> int:
        """The process id of the sandbox."""
        return int(self.info["pid"])

    @property
    def env(self) -> dict[str, str]:
        """AZURE_* and REQUESTS_CA_BUNDLE, as AWX's Azure credential injects them, for this sandbox."""
        return dict(self.info["env"])

    def control(self, path: str, method: str = "GET") -> Any:
        """Call a control endpoint (``GET /_sandbox/state``, ``POST /_sandbox/clear-requests``...); its JSON or None."""
        context = ssl.create_default_context(cafile=self.info["ca_file"])
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # nosec B310: https only
            body = response.read()
        return json.loads(body.decode("utf-8")) if body else None

    def clear_requests(self) -> None:
        """Forget the request log, so that :meth:`writes` shows what comes next."""
        self.control("/_sandbox/clear-requests", "POST")

    def writes(self) -> list[str]:
        """``METHOD path`` of every Resource Manager request that changes something, in arrival order."""
        return [f"{item['method']} {item['path']}" for item in self.control("/_sandbox/requests")
                if item["method"] in ("PUT", "PATCH", "DELETE") and item["path"].startswith("/subscriptions/")]

    def record_sets(self, zone: str, resource_group: str) -> dict[str, dict[str, Any]]:
        """The record sets of a sandbox Azure DNS zone, by ``name/TYPE`` (REST shape), empty when no zone."""
        zones = self.control("/_sandbox/state").get("dns", {}).get("zones", {})
        return dict(zones.get(f"{resource_group.lower()}/{zone.lower()}", {}).get("records", {}))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start(seed: Path, directory: Path, timeout: float = 30.0) -> SandboxProcess:
    """Start the sandbox seeded with ``seed``; its info file, pid and log go to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    info_file = directory / INFO
    info_file.unlink(missing_ok=True)
    with open(directory / LOG, "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # it outlives this call on purpose
            [sys.executable, "-m", "tests.support.azure_sandbox", "--seed", str(seed), "--info", str(info_file)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            _terminate(process.pid)
            raise RuntimeError(f"the Azure sandbox did not start:\n{(directory / LOG).read_text(errors='replace')}")
        time.sleep(0.05)
    return SandboxProcess(json.loads(info_file.read_text(encoding="utf-8")))


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL; a process that is gone already is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop(directory: Path) -> bool:
    """Stop the sandbox whose info file is in ``directory``; False when there was none."""
    info_file = directory / INFO
    if not info_file.exists():
        return False
    _terminate(SandboxProcess(json.loads(info_file.read_text(encoding="utf-8"))).pid)
    info_file.unlink()
    return True


@contextlib.contextmanager
def running(seed: Path, directory: Path) -> Iterator[SandboxProcess]:
    """Start the sandbox, yield it, and stop it however the block ends."""
    sandbox = start(seed, directory)
    try:
        yield sandbox
    finally:
        stop(directory)


def main(argv: list[str] | None = None) -> int:
    """``start`` or ``stop`` from the command line (molecule's create and destroy steps)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", required=True, type=Path, help="where the info file, pid and log go")
    parser.add_argument("--seed", type=Path, default=ROOT / "demo" / "seed.json", help="the seed document")
    args = parser.parse_args(argv)
    if args.action == "start":
        print(json.dumps(start(args.seed.resolve(), args.dir.resolve()).info, indent=2))
    else:
        print("stopped" if stop(args.dir.resolve()) else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
