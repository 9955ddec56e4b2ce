"""The shared start-and-stop of test server processes (tests/support/process.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.process import serving


def _start(tmp_path: Path, code: str) -> tuple[subprocess.Popen, object]:
    output = open(tmp_path / "out.log", "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen([sys.executable, "-c", code], stdout=output, stderr=output,  # pylint: disable=consider-using-with
                               start_new_session=True)
    return process, output


def test_a_process_that_dies_fails_with_its_message_and_is_cleaned_up(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    process, output = _start(tmp_path, "raise SystemExit(3)")
    with pytest.raises(RuntimeError, match="^server did not start: exit 3$"):
        with serving(process, lambda: False, lambda: f"server did not start: exit {process.returncode}", output,
                     str(directory), timeout=30):
            pytest.fail("the block must not run")
    assert not directory.exists() and output.closed


def test_a_ready_process_serves_then_is_stopped(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    process, output = _start(tmp_path, "import time; time.sleep(60)")
    with serving(process, lambda: True, lambda: "unused", output, str(directory), timeout=30):
        assert process.poll() is None
    assert process.poll() is not None and not directory.exists() and output.closed
