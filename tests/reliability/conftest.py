# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reliability suite's harness: hypothesis settings, a hang watchdog, the sandbox environment and a plain-http trap.

- Hypothesis runs derandomized (the same examples on every machine, so a red CI run is reproducible
  locally) with no per-example deadline: time limits belong to ``make bench``, not to tests. A hang
  is still caught: :func:`watchdog` fails a test that runs longer than :data:`HANG_SECONDS`, far
  beyond what any example needs, so that a regression to unbounded work fails instead of blocking CI.
- Examples hypothesis once found are kept as ``@example`` regression cases in the test files.
- :func:`one_line_error` is the suite's invariant for errors: a ``CmgError`` whose message is one
  non-empty line.
"""

from __future__ import annotations

import signal
import socket
import threading
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from tests.support.azure_sandbox import AzureSandbox

#: A test that runs longer than this is hung (unbounded work), not slow.
HANG_SECONDS = 300

settings.register_profile("reliability", derandomize=True, deadline=None, max_examples=300, print_blob=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("reliability")


class Hung(Exception):
    """Raised in the main thread when a reliability test outlives :data:`HANG_SECONDS`."""


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """Fail a test that hangs (SIGALRM after HANG_SECONDS) instead of blocking the whole run."""
    def expire(_signum: int, _frame: Any) -> None:
        raise Hung(f"the test ran for more than {HANG_SECONDS} s: some input makes the code work without bound")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_line_error(call: Callable[[], Any]) -> tuple[Any, CmgError | None]:
    """``(result, None)`` or ``(None, error)`` for a CmgError with a one-line message; any other exception fails."""
    try:
        return call(), None
    except CmgError as exc:
        message = str(exc)
        assert message.strip(), f"{type(exc).__name__} with an empty message"
        assert "\n" not in message and "\r" not in message, f"a message of more than one line: {message!r}"
        assert "Traceback" not in message
        return None, exc


@pytest.fixture
def sandbox_env(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The sandbox's environment, with REQUESTS_CA_BUNDLE set in this process (the SDK reads it from here)."""
    env = azure_sandbox.env()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AZURE_CLOUD_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", env["REQUESTS_CA_BUNDLE"])
    return env


class PlainHttpTrap:
    """A plain-http listener on 127.0.0.1 that counts every connection (a redirect must never reach it)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="plain-http-trap", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _address = self._socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(2)
        self._socket.close()


@pytest.fixture
def plain_http() -> Iterator[PlainHttpTrap]:
    """A plain-http trap that a redirect could point at."""
    trap = PlainHttpTrap()
    yield trap
    trap.close()
