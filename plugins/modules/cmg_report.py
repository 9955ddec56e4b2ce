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
    the service-name CNAME and its propagation) into a list of checks that pass, warn, fail or were skipped.
  - Writes three files into O(dest) - C(cmg-readiness.json) (everything), C(cmg-readiness.md) (a page for the
    administrator - the checks, the values to type into the Create Cloud Management Gateway wizard, what to fix)
    and C(cmg-readiness.junit.xml) (one test case per check, for the test tab of Azure DevOps, GitLab or Jenkins).
  - A step whose result is missing, or was skipped, is reported as skipped with the reason from O(skip_reasons).
  - The files are rewritten only when their content, not counting the generation time, changes; each is written
    to a temporary file and renamed, so a file is never half-written.
  - No secret and no private key is ever written - keys that name a secret (V(password), V(secret),
    V(key_secret), V(private_key) and the like) are dropped from the results, and so is any PEM private key.
author:
  - configmgr.cmg contributors (@configmgr)
options:
  dest:
    description:
      - The directory to write the report files into. It is created (mode C(0700)) when missing.
    type: path
    required: true
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
      - The registered result of M(configmgr.cmg.cmg_cname); its C(propagation) is reported as its own step.
    type: dict
  skip_reasons:
    description:
      - Why a step did not run, by step - V(certificate), V(names), V(availability), V(readiness), V(dns) or
        V(propagation).
      - A step with neither a result nor a reason gets O(default_skip_reason).
    type: dict
    default: {}
  default_skip_reason:
    description:
      - The reason shown for a step that has neither a result nor an entry in O(skip_reasons), for example
        that the play stopped at an earlier step.
    type: str
    default: not run in this play (excluded by tags, or a previous step did not complete)
  mode:
    description:
      - The permissions of the report files, as an octal string such as V('0600').
    type: raw
    default: '0600'
notes:
  - Check mode reports whether the files would change and writes nothing.
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

- name: Write a report for the certificate alone
  configmgr.cmg.cmg_report:
    dest: /srv/reports/cmg
    certificate: "{{ cert_result }}"
    skip_reasons:
      names: only the certificate was checked
      availability: only the certificate was checked
      dns: only the certificate was checked
    mode: '0640'
"""

RETURN = r"""
status:
  description: The overall result - V(fail) when a check failed, V(warn) when one warned, V(pass) otherwise.
  returned: success
  type: str
  sample: pass
counts:
  description: The number of checks by status.
  returned: success
  type: dict
  sample: {"pass": 7, "warn": 1, "fail": 0, "skip": 1}
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
      description: The step the check belongs to.
      type: str
      sample: availability
    name:
      description: A short title.
      type: str
      sample: "Name free: key_vault granitefalls"
    status:
      description: V(pass), V(warn), V(fail) or V(skip).
      type: str
      sample: pass
    message:
      description: What was found, and for a warning or failure what to do.
      type: str
      sample: the name is available
to_fix:
  description: The checks that failed or warned, in the same form as RV(checks).
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
  description: The steps that did not run, with the reason.
  returned: success
  type: dict
  sample: {"propagation": "cmg_wait_for_dns is false"}
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.configmgr.cmg.plugins.module_utils._module import run
from ansible_collections.configmgr.cmg.plugins.module_utils._report import (
    DEFAULT_SKIP_REASON, build_report, parse_mode, write_report)

STEP_OPTIONS = ("certificate", "names", "availability", "readiness", "dns")


def main() -> None:
    """Build the report from the step results and write it."""
    module = AnsibleModule(
        # No option takes a secret, so none needs no_log: the step results arrive already censored by
        # Ansible (no_log options show as VALUE_SPECIFIED_IN_NO_LOG_PARAMETER) and are scrubbed again.
        argument_spec={
            "dest": {"type": "path", "required": True},
            "certificate": {"type": "dict"},
            "names": {"type": "dict"},
            "availability": {"type": "dict"},
            "readiness": {"type": "dict"},
            "dns": {"type": "dict"},
            "skip_reasons": {"type": "dict", "default": {}},
            "default_skip_reason": {"type": "str", "default": DEFAULT_SKIP_REASON},
            "mode": {"type": "raw", "default": "0600"},
        },
        supports_check_mode=True,
    )
    run(module, lambda: _report(module))


def _report(module: AnsibleModule) -> dict:
    params = module.params
    mode = parse_mode(params["mode"])
    report = build_report({step: params[step] for step in STEP_OPTIONS if params[step] is not None},
                          params["skip_reasons"], params["default_skip_reason"])
    written = write_report(params["dest"], report, mode=mode, check_mode=module.check_mode)
    result = {
        "changed": written["changed"],
        "status": report["status"],
        "counts": report["counts"],
        "checks": report["checks"],
        "to_fix": report["to_fix"],
        "wizard": report["wizard"],
        "skip_reasons": report["skip_reasons"],
        "paths": written["paths"],
        "generated_at": written["generated_at"],
    }
    if module._diff and written["changed"]:
        result["diff"] = written["diff"]
    return result


if __name__ == "__main__":
    main()
