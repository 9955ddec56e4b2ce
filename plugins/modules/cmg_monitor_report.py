#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module configmgr.cmg.cmg_monitor_report: the monitor's per-CMG pages and summary."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_monitor_report
short_description: Write the CMG monitor's reports - one page per CMG, a Markdown summary and a JUnit file
version_added: 0.1.0
description:
  - Takes the M(configmgr.cmg.cmg_endpoint_info) result of every CMG (or the failure of its task) and writes into
    O(dest) one page per CMG (C(<cmg>.cmg.md)), the summary table C(cmg-monitor.md), C(cmg-monitor.json) and
    C(cmg-monitor.junit.xml) with one test case per CMG and check, so that a pipeline or an AWX schedule shows a
    red test for every CMG that is broken or within its renewal window.
  - A CMG is red when one of its checks fails, or warns and O(fail_on) is V(warning) (the default; an expiring
    certificate is a warning). RV(verdict) is V(fail) when any CMG is red; the C(configmgr.cmg.monitor) role fails
    the play on it.
  - When a certificate is expired or within its renewal window, its page and the summary say which certificate
    to renew and how - O(renew_playbook) when given, else the manual path.
  - Files are rewritten only when their content changes, each through a temporary file and a rename.
  - Only the known facts of the results are written (names, dates, thumbprints, check messages); no option value
    and no secret.
author:
  - configmgr.cmg contributors (@configmgr)
options:
  dest:
    description:
      - The directory to write the reports into. It is created when missing.
    type: path
    required: true
  results:
    description:
      - The registered M(configmgr.cmg.cmg_endpoint_info) result of each CMG, by CMG (inventory host) name.
      - A result with C(failed) and C(msg) but no C(checks) (a task that failed on bad input) is one failing test case.
    type: dict
    required: true
  fail_on:
    description:
      - V(warning) makes a CMG red on a warning too (a certificate within O(configmgr.cmg.cmg_endpoint_info#module:min_days_remaining)),
        V(error) only on errors.
    type: str
    choices: [error, warning]
    default: warning
  renew_playbook:
    description:
      - The playbook that renews a CMG certificate, named in the renewal advice. Without it the advice gives the
        manual path.
    type: str
  mode:
    description:
      - The permissions of the report files.
    type: raw
    default: '0644'
notes:
  - Check mode reports whether the files would change and writes nothing.
  - Diff mode shows the summary page before and after.
attributes:
  check_mode:
    description: Reports whether the files would change, and writes nothing.
    support: full
  diff_mode:
    description: Returns the summary page before and after.
    support: full
"""

EXAMPLES = r"""
- name: Write the monitor reports for every CMG of the play
  configmgr.cmg.cmg_monitor_report:
    dest: /var/lib/cmg-monitor
    results: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'cmg_endpoint'))) }}"
  run_once: true
  delegate_to: localhost
  register: cmg_monitor
"""

RETURN = r"""
verdict:
  description: V(fail) when any CMG is red, V(pass) otherwise.
  returned: always
  type: str
  sample: fail
red:
  description: The CMGs that are red, by name.
  returned: always
  type: list
  elements: str
counts:
  description: The number of CMGs by status (C(pass), C(warn), C(fail)).
  returned: always
  type: dict
  sample: {"pass": 19, "warn": 1, "fail": 0}
cmgs:
  description: One entry per CMG - C(cmg), C(service_name), C(status), C(red), C(checks), C(findings), C(not_after),
    C(days_remaining), C(thumbprint), C(renewal) (the advice, or None).
  returned: always
  type: list
  elements: dict
paths:
  description: The summary files (C(markdown), C(junit), C(json)) and C(cmgs), the page of each CMG by name.
  returned: always
  type: dict
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._monitor import (
    SUMMARY_FILES, build_summary, cmg_file, render_all)
from ansible_collections.configmgr.cmg.plugins.module_utils._module import run
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from ansible_collections.configmgr.cmg.plugins.module_utils._secure_file import previous_text

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "results": {"type": "dict", "required": True},
    "fail_on": {"type": "str", "choices": ["error", "warning"], "default": "warning"},
    "renew_playbook": {"type": "str"},
    "mode": {"type": "raw", "default": "0644"},
}


def _write(module: AnsibleModule, path: str, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".cmg-monitor-", dir=os.path.dirname(path))
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    module.atomic_move(temporary, path)


def report(module: AnsibleModule) -> dict:
    """Build the summary, write the files that changed, return the verdict."""
    params = module.params
    summary = build_summary(params["results"], params["fail_on"], params["renew_playbook"])
    dest = params["dest"]
    files = render_all(summary)
    paths = {name: os.path.join(dest, name) for name in files}
    before = {name: previous_text(path, "monitor report file") for name, path in paths.items()} if os.path.isdir(dest) else {}
    stale = [name for name in files if before.get(name) != files[name]]
    changed = bool(stale)
    if not module.check_mode:
        try:
            os.makedirs(dest, exist_ok=True)
        except OSError as exc:
            raise CmgError(f"cannot create the report directory {dest}: {exc.strerror or exc}") from None
        for name in stale:
            _write(module, paths[name], files[name])
        for path in paths.values():
            changed = module.set_mode_if_different(path, params["mode"], changed)
    markdown = SUMMARY_FILES["markdown"]
    result = {"changed": changed, "verdict": summary["verdict"], "red": summary["red"], "counts": summary["counts"],
              "cmgs": summary["cmgs"],
              "paths": {**{kind: paths[name] for kind, name in SUMMARY_FILES.items()},
                        "cmgs": {entry["cmg"]: paths[cmg_file(entry["cmg"])] for entry in summary["cmgs"]}}}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": before.get(markdown) or "", "after": files[markdown],
                          "before_header": paths[markdown], "after_header": paths[markdown]}
    return result


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run(module, lambda: report(module))


if __name__ == "__main__":
    main()
