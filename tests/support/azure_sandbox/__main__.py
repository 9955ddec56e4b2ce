"""Run the sandbox as a process, for molecule and the demo.

    python -m tests.support.azure_sandbox --seed seed.json --info info.json

Writes ``info.json`` (url, ca_file, env) once it serves, and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading

from .core import AzureSandbox


def main() -> None:
    """Parse the arguments, start the sandbox, write the info file, wait for a signal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", help="JSON seed document: {'dns': ..., 'names': ...}")
    parser.add_argument("--info", required=True, help="where to write url, ca_file and env as JSON")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cloud-name", default="AzureCloud")
    parser.add_argument("--metadata-format", choices=("list", "2015"), default="list")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with AzureSandbox(cloud_name=args.cloud_name, metadata_format=args.metadata_format).start(args.port) as sandbox:
        if args.seed:
            with open(args.seed, encoding="utf-8") as handle:
                sandbox.seed(json.load(handle))
        info = {"url": sandbox.url, "ca_file": sandbox.ca_file, "env": sandbox.env(), "pid": os.getpid()}
        tmp = f"{args.info}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=2)
        os.replace(tmp, args.info)
        stop.wait()


if __name__ == "__main__":
    main()
