#!/usr/bin/python
# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the CMG readiness report (JSON, Markdown, JUnit XML) from the prepare steps' results."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cmg_report
short_description: Write the CMG readiness report (JSON, Markdown and JUnit XML)
version_added: 0.1.0
description:
  - Turns the results of the prepare steps (certificate validation, derived names, name availability,
    the service-name CNAME and its propagation) into a list of checks, each V(pass), V(warn), V(fail), V(skip),
    V(not_run) (the step never ran because an earlier one failed), V(would_create) or V(would_change) (check mode
    found something a real run would write).
  - The report's status is the worst of every check - V(fail) (a check failed, or a step did not run because of a
    failure), V(warn), V(would_change) (check mode only), V(pass). A failed run (O(failure)) is always V(fail).
  - Writes three files into O(dest) - C(<name>.json) (everything), C(<name>.md) (a page for the
    administrator - the checks, the values to type into the Create Cloud Management Gateway wizard, what to fix)
    and C(<name>.junit.xml) (one test case per check, for the test tab of Azure DevOps, GitLab or Jenkins; a failed
    or not-run check is a failure, a skipped step or a check-mode change is skipped, never a pass).
  - The files are rewritten only when their content, not counting the generation time, changes. Each is written to
    a temporary file beside it and moved into place with Ansible's C(atomic_move), then given the file attributes
    (O(mode), O(owner), O(group)...) as M(ansible.builtin.copy) does.
  - No secret and no private key is ever written - keys that name a secret (V(password), V(secret),
    V(key_secret), V(private_key) and the like) are dropped from the results, and so is any PEM private key.
author:
  - configmgr.cmg contributors (@configmgr)
extends_documentation_fragment:
  - ansible.builtin.files
options:
  dest:
    description:
      - The directory to write the report files into. It is created (mode C(0700)) when missing.
    type: path
    required: true
  name:
    description:
      - The base name of the files.
      - Default - V(cmg-readiness), or V(cmg-readiness-partial) when O(run_tags) or O(skip_tags) leave out one of
        the prepare role's steps (C(certificate), C(names), C(availability), C(dns)), so that a partial run never
        overwrites the report of a full run. Other tags (such as C(--skip-tags notest)) do not count.
    type: str
  run_tags:
    description:
      - The play's C(ansible_run_tags), to tell a partial run from a full one (see O(name)).
    type: list
    elements: str
    default: [all]
  skip_tags:
    description:
      - The play's C(ansible_skip_tags) (see O(name)).
    type: list
    elements: str
    default: []
  certificate:
    description:
      - The registered result of M(configmgr.cmg.cmg_cert_validate).
    type: dict
  names:
    description:
      - The naming dict of the C(configmgr.cmg.cmg_names) filter.
    type: dict
  availability:
    description:
      - The registered result of M(configmgr.cmg.cmg_name_available).
    type: dict
  readiness:
    description:
      - The registered result of M(configmgr.cmg.cmg_azure_readiness); each of its C(checks) is a row, its C(fix)
        added to the message. Its VM size, instance count and resource group go to the wizard values.
    type: dict
  dns:
    description:
      - The registered result of M(configmgr.cmg.cmg_cname); its C(propagation) is reported as its own step, and
        C(propagation_skip_reason), when the module gives one, says why it did not wait. The registered result of
        a looped task (C(results)) gives a row per record, named by C(record_names) (one per loop item).
    type: dict
  steps:
    description:
      - The results of further report steps, by step name (the steps registered in C(module_utils._report)).
    type: dict
    default: {}
  skip_reasons:
    description:
      - Why a step did not run by decision, by step - V(certificate), V(names), V(availability), V(readiness),
        V(dns) or V(propagation).
      - A step with neither a result nor a reason gets O(default_skip_reason), or V(not_run) after a failure.
    type: dict
    default: {}
  default_skip_reason:
    description:
      - The reason shown for a step that has neither a result nor an entry in O(skip_reasons) in a run that did
        not fail (the step was excluded by tags).
    type: str
    default: not run in this play (excluded by tags)
  failure:
    description:
      - The run stopped - C(step) (the step that failed, if known), C(task) (the failed task's name) and C(msg).
      - The failed step gets a failed check, every later step that did not run is V(not_run), and the status is
        V(fail).
    type: dict
  fail_on:
    description:
      - Which report status stops the run - RV(stop) is true for V(fail) with V(error), for V(fail) or V(warn) with
        V(warning), never with V(never). A failed run (O(failure)) always stops.
    type: str
    choices: [error, warning, never]
    default: error
  vocabulary:
    description:
      - V(role) words the messages as the C(configmgr.cmg.prepare) role's user knows them (C(cmg_ca_bundle), not
        C(ca_bundle)), and says which Azure credential sources were tried when none was found.
    type: str
    choices: [module, role]
    default: module
  mode:
    description:
      - The permissions of the report files, as for M(ansible.builtin.file) (octal string or symbolic), permission
        bits only - a mode with setuid, setgid or the sticky bit (V(7777), V(u+s)) is refused.
    type: raw
    default: '0600'
notes:
  - Check mode reports whether the files would change and writes nothing; the report it returns marks what a real
    run would create or change as V(would_create) or V(would_change).
  - Diff mode shows the difference in the Markdown page.
attributes:
  check_mode:
    description: Reports whether the files would change, and writes nothing.
    support: full
  diff_mode:
    description: Returns the Markdown page before and after.
    support: full
"""

EXAMPLES = r"""
- name: Write the readiness report
  configmgr.cmg.cmg_report:
    dest: "{{ playbook_dir }}/reports"
    certificate: "{{ cert_result }}"
    names: "{{ cmg_names }}"
    availability: "{{ availability_result }}"
    dns: "{{ cname_result }}"
    skip_reasons:
      propagation: cmg_wait_for_dns is false

- name: Write the report of a run that stopped at the name check
  configmgr.cmg.cmg_report:
    dest: /srv/reports/cmg
    certificate: "{{ cert_result }}"
    names: "{{ cmg_names }}"
    failure:
      step: availability
      task: "{{ ansible_failed_task.name }}"
      msg: "{{ ansible_failed_result.msg }}"
    mode: '0640'
"""

RETURN = r"""
status:
  description:
    - The overall result, the worst of every check - V(fail) when a check failed or a step did not run because of a
      failure, V(warn) when one warned, V(would_change) when check mode found something to write, V(pass) otherwise.
  returned: success
  type: str
  sample: pass
stop:
  description: Whether the run should stop, from O(fail_on), or because it failed (O(failure)).
  returned: success
  type: bool
  sample: false
stop_msg:
  description: The one-line message to stop with (null when RV(stop) is false).
  returned: success
  type: str
  sample: "CMG readiness FAIL: availability.key_vault: the name is taken (readiness report: /srv/reports/cmg/cmg-readiness.md)"
counts:
  description: The number of checks by status.
  returned: success
  type: dict
  sample: {"pass": 7, "warn": 1, "fail": 0, "skip": 1, "not_run": 0, "would_create": 0, "would_change": 0}
checks:
  description: Every check, in step order.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The check's identifier, C(<step>.<code>), also the JUnit test case name.
      type: str
      sample: availability.key_vault
    step:
      description: The step the check belongs to (C(run) for a failure no step claims).
      type: str
      sample: availability
    name:
      description: A short title.
      type: str
      sample: "Name free: key_vault granitefalls"
    status:
      description: V(pass), V(warn), V(fail), V(skip), V(not_run), V(would_create) or V(would_change).
      type: str
      sample: pass
    message:
      description: What was found, and for a warning or failure what to do.
      type: str
      sample: the name is available
to_fix:
  description: The checks that failed, did not run because of a failure, or warned, in the same form as RV(checks).
  returned: success
  type: list
  elements: dict
wizard:
  description: The values to type into (or check in) the Create Cloud Management Gateway wizard.
  returned: success
  type: dict
  sample:
    azure_environment: AzureCloud
    region: West US (westus)
    service_name: GraniteFalls.contoso.com
    deployment_name: granitefalls.westus.cloudapp.azure.com
skip_reasons:
  description: The steps that did not run by decision (or were excluded by tags), with the reason.
  returned: success
  type: dict
  sample: {"propagation": "cmg_wait_for_dns is false"}
not_run:
  description: The steps that did not run because of the failure, with the reason.
  returned: success
  type: dict
  sample: {"dns": "not run: the role stopped at 'Check the CMG names in Azure'"}
name:
  description: The base name of the files (V(cmg-readiness), or V(cmg-readiness-partial) for a run limited by tags).
  returned: success
  type: str
  sample: cmg-readiness
paths:
  description: The report files, by kind.
  returned: success
  type: dict
  sample:
    json: /srv/reports/cmg/cmg-readiness.json
    markdown: /srv/reports/cmg/cmg-readiness.md
    junit: /srv/reports/cmg/cmg-readiness.junit.xml
generated_at:
  description: The generation time recorded in the files (kept from the files on disk when nothing changed).
  returned: success
  type: str
  sample: "2026-01-31T12:00:00Z"
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._module import run
from ansible_collections.configmgr.cmg.plugins.module_utils._vocabulary import role_words
from ansible_collections.configmgr.cmg.plugins.module_utils._report import (
    DEFAULT_SKIP_REASON, FAIL_ON, ReportError, build_report, mode_problem, plan_report, report_name, stop_message)

STEP_OPTIONS = ("certificate", "names", "availability", "readiness", "dns")


def main() -> None:
    """Build the report from the step results and write it."""
    module = AnsibleModule(
        # No option takes a secret, so none needs no_log: the step results arrive already censored by
        # Ansible (no_log options show as VALUE_SPECIFIED_IN_NO_LOG_PARAMETER) and are scrubbed again.
        argument_spec={
            "dest": {"type": "path", "required": True},
            "name": {"type": "str"},
            "run_tags": {"type": "list", "elements": "str", "default": ["all"]},
            "skip_tags": {"type": "list", "elements": "str", "default": []},
            "certificate": {"type": "dict"},
            "names": {"type": "dict"},
            "availability": {"type": "dict"},
            "readiness": {"type": "dict"},
            "dns": {"type": "dict"},
            "steps": {"type": "dict", "default": {}},
            "skip_reasons": {"type": "dict", "default": {}},
            "default_skip_reason": {"type": "str", "default": DEFAULT_SKIP_REASON},
            "failure": {"type": "dict"},
            "fail_on": {"type": "str", "choices": list(FAIL_ON), "default": "error"},
            "vocabulary": {"type": "str", "choices": ["module", "role"], "default": "module"},
            "mode": {"type": "raw", "default": "0600"},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    run(module, lambda: _report(module))


def _in_role_words(report: dict) -> None:
    for check in report["checks"]:  # to_fix holds the same dicts
        check["message"] = role_words(check["message"])
    if report.get("failure"):
        report["failure"]["msg"] = role_words(report["failure"]["msg"])


def _write(module: AnsibleModule, paths: dict, contents: dict) -> None:
    """Every file to a temporary file beside it first, then each moved into place: none is ever half-written."""
    directory = os.path.dirname(paths["json"])
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report directory {directory}: {exc.strerror}") from exc
    if not os.path.isdir(directory):
        raise ReportError(f"the report directory {directory} is not a directory")
    temps: dict = {}
    try:
        for kind, content in contents.items():
            handle, temps[kind] = tempfile.mkstemp(prefix=f".{os.path.basename(paths[kind])}.", suffix=".tmp",
                                                   dir=directory)
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(content)
        for kind in list(temps):
            module.atomic_move(temps.pop(kind), paths[kind])
    except OSError as exc:
        raise ReportError(f"cannot write the report in {directory}: {exc.strerror or exc}") from exc
    finally:
        for temp in temps.values():
            if os.path.exists(temp):
                os.unlink(temp)


def _report(module: AnsibleModule) -> dict:
    params = module.params
    problem = mode_problem(params["mode"])
    if problem:
        raise ReportError(problem)
    results = {step: params[step] for step in STEP_OPTIONS if params[step] is not None}
    results.update({str(step): result for step, result in (params["steps"] or {}).items() if result is not None})
    report = build_report(results, params["skip_reasons"], params["default_skip_reason"], failure=params["failure"],
                          check_mode=module.check_mode)
    if params["vocabulary"] == "role":
        _in_role_words(report)
    name = params["name"] or report_name(params["run_tags"], params["skip_tags"])
    plan = plan_report(params["dest"], report, name)
    changed = not plan["same"]
    if changed and not module.check_mode:
        _write(module, plan["paths"], plan["contents"])
    for path in plan["paths"].values():
        changed = module.set_fs_attributes_if_different(module.load_file_common_arguments(params, path=path), changed)
    stop_msg = stop_message(report, params["fail_on"], plan["paths"]["markdown"] if not report.get("failure")
                            else os.path.dirname(plan["paths"]["markdown"]))
    result = {
        "changed": changed,
        "status": report["status"],
        "stop": stop_msg is not None,
        "stop_msg": stop_msg,
        "counts": report["counts"],
        "checks": report["checks"],
        "to_fix": report["to_fix"],
        "wizard": report["wizard"],
        "skip_reasons": report["skip_reasons"],
        "not_run": report["not_run"],
        "name": name,
        "paths": plan["paths"],
        "generated_at": plan["generated_at"],
    }
    if module._diff and changed:
        result["diff"] = {"before_header": plan["paths"]["markdown"], "after_header": plan["paths"]["markdown"],
                          "before": plan["before"]["markdown"] or "", "after": plan["contents"]["markdown"]}
    return result


if __name__ == "__main__":
    main()
