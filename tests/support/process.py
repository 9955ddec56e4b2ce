"""One way to run a test server process: wait until it serves, and always stop it and clean up after it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from typing import IO, Callable, Iterator


@contextlib.contextmanager
def serving(process: subprocess.Popen, ready: Callable[[], bool], failure: Callable[[], str], output: IO[bytes],
            directory: str, timeout: float, poll: float = 0.02) -> Iterator[None]:
    """Wait until ``ready()`` (or fail with ``failure()`` once the process died or ``timeout`` passed), then serve.

    However the block ends, the process group (started with ``start_new_session=True``) gets SIGTERM, then
    SIGKILL after 5 s, ``output`` is closed and ``directory`` removed.
    """
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(failure())
            time.sleep(poll)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        output.close()
        shutil.rmtree(directory, ignore_errors=True)


def read_text(path: str) -> str:
    """A log file's text (undecodable bytes replaced), for a failure message."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()
