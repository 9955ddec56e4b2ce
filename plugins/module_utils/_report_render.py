# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness report rendered: JSON, the Markdown page an administrator reads, and JUnit XML.

Every text that reaches a file passes :func:`_visible` (control characters, surrogates and XML non-characters
become visible escapes), so the files always parse. Pure Python, no Ansible.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from ._report_checks import CHECK_STATUSES, FAILING
from ._report_model import step_title

# ---------------------------------------------------------------------------------------------
# rendering

WIZARD_LABELS = (
    ("azure_environment", "Azure environment"),
    ("region", "Region"),
    ("service_name", "Service name (the certificate's common name)"),
    ("deployment_name", "Deployment name (shown by the wizard, must match)"),
    ("resource_group", "Resource group"),
    ("vm_size", "VM size"),
    ("vm_instances", "VM instances"),
    ("cname", "DNS record"),
    ("certificate_thumbprint", "Certificate thumbprint"),
    ("certificate_expires", "Certificate expires"),
)
STATUS_LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP", "not_run": "NOT RUN",
                 "would_create": "WOULD CREATE", "would_change": "WOULD CHANGE"}


#: Characters no report may carry raw: C0 controls but tab and newline, DEL, C1 controls, surrogates and
#: the XML non-characters U+FFFE/U+FFFF (invalid in XML 1.0, invisible or misleading in Markdown).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(text: object) -> str:
    """``text`` with every unprintable character replaced by its visible escape (``\\x00``, ``\\ud800``)."""
    return _UNPRINTABLE.sub(lambda found: found.group().encode("unicode_escape", "backslashreplace").decode("ascii")
                            if ord(found.group()) < 0xd800 else f"\\u{ord(found.group()):04x}", str(text))


def _line(text: object) -> str:
    """One visible line of Markdown text (newlines become spaces)."""
    return _visible(str(text).replace("\r", " ").replace("\n", " "))


def _cell(text: object) -> str:
    """Markdown table cell text: one visible line, pipes escaped."""
    return _line(str(text).replace("\\", "\\\\").replace("|", "\\|"))


def _counts_text(counts: dict[str, int]) -> str:
    words = {"pass": "pass", "warn": "warn", "fail": "fail", "skip": "skipped", "not_run": "not run",
             "would_create": "would create", "would_change": "would change"}
    always = ("pass", "warn", "fail", "skip")
    return ", ".join(f"{counts.get(status, 0)} {words[status]}" for status in CHECK_STATUSES
                     if status in always or counts.get(status))


def _title(report: dict[str, Any]) -> str:
    service = report["wizard"].get("service_name")
    return _line(f"CMG readiness: {service}" if service else "CMG readiness")


def render_json(report: dict[str, Any], timestamp: str) -> str:
    """The JSON file: the whole report with its generation time."""
    document = {"generated_at": timestamp, "generator": "configmgr.cmg.cmg_report", **report}
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def render_markdown(report: dict[str, Any], timestamp: str) -> str:
    """The page an administrator reads: result, wizard values, checks, what to fix, skipped steps."""
    counts = report["counts"]
    lines = [
        f"# {_title(report)}",
        "",
        f"**Result: {STATUS_LABELS[report['status']]}** ({_counts_text(counts)})"
        + (" in check mode: nothing was written" if report.get("check_mode") else ""),
        "",
        f"Generated {timestamp} by configmgr.cmg.",
        "",
        "## Values for the Create Cloud Management Gateway wizard",
        "",
    ]
    wizard = report["wizard"]
    rows = [(label, wizard[key]) for key, label in WIZARD_LABELS if key in wizard]
    if rows:
        lines += ["| Setting | Value |", "| --- | --- |"] + [f"| {_cell(label)} | `{_cell(value)}` |" for label, value in rows]
    else:
        lines.append("No names could be derived: see the checks below.")
    lines += ["", "## Checks", "", "| Status | Step | Check | Details |", "| --- | --- | --- | --- |"]
    lines += [f"| {STATUS_LABELS[check['status']]} | {_cell(step_title(check['step']))} | {_cell(check['name'])} | "
              f"{_cell(check['message'])} |" for check in report["checks"]]
    lines += ["", "## What to fix", ""]
    if report["to_fix"]:
        lines += [f"{index}. **{STATUS_LABELS[check['status']]}** {_visible(check['name'])}: {_visible(check['message'])}"
                  for index, check in enumerate(report["to_fix"], start=1)]
    else:
        lines.append("Nothing: every check that ran passed.")
    if report["skip_reasons"]:
        lines += ["", "## Skipped steps", ""]
        lines += [f"- {step_title(step)}: {_visible(reason)}" for step, reason in report["skip_reasons"].items()]
    if report.get("not_run"):
        lines += ["", "## Steps not run because of the failure", ""]
        lines += [f"- {step_title(step)}: {_visible(reason)}" for step, reason in report["not_run"].items()]
    return "\n".join(lines) + "\n"


def render_junit(report: dict[str, Any], timestamp: str) -> str:
    """JUnit XML (testsuites/testsuite/testcase with failure/skipped/system-out), one test case per check.

    Failed checks and steps not run because of a failure carry a ``failure``; skipped steps and what check
    mode would create or change carry a ``skipped`` (check mode proves nothing about the real state);
    warnings pass and carry their message in ``system-out``. The timestamp is ISO 8601 without a zone (UTC), as the Ant and
    Jenkins JUnit schemas define it.
    """
    counts = report["counts"]
    totals = {"tests": str(len(report["checks"])), "failures": str(counts["fail"] + counts["not_run"]), "errors": "0",
              "skipped": str(counts["skip"] + counts["would_create"] + counts["would_change"]), "time": "0"}
    suites = ET.Element("testsuites", {"name": _title(report), **totals})
    suite = ET.SubElement(suites, "testsuite", {"name": "configmgr.cmg.readiness", **totals,
                                                "timestamp": timestamp.replace("Z", "").split("+")[0]})
    for check in report["checks"]:
        name, message = _visible(check["name"]), _visible(check["message"])
        case = ET.SubElement(suite, "testcase", {"classname": f"cmg.{_visible(check['step'])}", "name": _visible(check["id"]),
                                                 "time": "0"})
        if check["status"] == "skip":
            ET.SubElement(case, "skipped", {"message": message})
        elif check["status"] in ("would_create", "would_change"):
            ET.SubElement(case, "skipped", {"message": f"{STATUS_LABELS[check['status']].lower()}: {message}"})
        elif check["status"] in FAILING:
            failure = ET.SubElement(case, "failure", {"message": message, "type": check["status"]})
            failure.text = f"{name}: {message}"
        elif check["status"] == "warn":
            ET.SubElement(case, "system-out").text = f"WARNING {name}: {message}"
        else:
            ET.SubElement(case, "system-out").text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


RENDERERS = {"json": render_json, "markdown": render_markdown, "junit": render_junit}


def render_all(report: dict[str, Any], timestamp: str) -> dict[str, str]:
    """The three files' contents, by kind (``json``, ``markdown``, ``junit``)."""
    return {kind: render(report, timestamp) for kind, render in RENDERERS.items()}
