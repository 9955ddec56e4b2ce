# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: append each task result as one JSON line to $RECORD_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = """
name: record_results
type: aggregate
short_description: Write every task result as a JSON line (tests only)
description:
  - Appends C({"task", "host", "status", "result"}) for each task result to the file named by
    E(RECORD_RESULTS_FILE), so that tests can assert the exact results of real module runs.
requirements:
  - enabled in callbacks_enabled
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Record results; no_log results are recorded censored, as Ansible hands them to callbacks."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, status, result):
        path = os.environ.get("RECORD_RESULTS_FILE")
        if not path:
            return
        data = json.loads(self._dump_results(dict(result._result), indent=None, keep_invocation=True))
        if "diff" in result._result:  # the display drops diffs from the dump: keep them for the tests
            data["diff"] = json.loads(json.dumps(result._result["diff"], default=str))
        if status == "failed":
            data["failed"] = True
        if result._result.get("warnings"):  # the dump drops warnings: tests assert on them
            data["warnings"] = [str(warning) for warning in result._result["warnings"]]
        entry = {"task": result._task.get_name(), "host": result._host.get_name(), "status": status, "result": data}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def v2_runner_on_ok(self, result):
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)
