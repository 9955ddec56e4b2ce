# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor's reports: one page per CMG, one summary (Markdown and JUnit XML) for all of them.

:func:`build_summary` takes the ``cmg_endpoint_info`` result of every CMG of the inventory (or, for a
CMG whose task failed, ``{failed: true, msg}``) and decides the verdict: a CMG is red when a check
fails, or warns and ``fail_on`` is ``warning`` (the default, so a certificate within its renewal
window turns the schedule red). :func:`render_all` returns the file contents by file name; the
JUnit file has one test case per CMG and check. Nothing here reads a secret: only the known fact
keys of the results are used. Pure Python, no Ansible.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from ._endpoint_findings import EXPIRED, EXPIRING_SOON, NOT_YET_VALID

SUMMARY_FILES = {"markdown": "cmg-monitor.md", "junit": "cmg-monitor.junit.xml", "json": "cmg-monitor.json"}
FAIL_ON = ("error", "warning")
RED = {"error": ("fail",), "warning": ("fail", "warn")}
LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
RENEWAL_CODES = (EXPIRED, EXPIRING_SOON, NOT_YET_VALID)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MANUAL_RENEWAL = (
    "request a new certificate with the same common name (case included) and the Server Authentication EKU from "
    "the same CA, export it as a PFX with its private key and full chain, check it with "
    "`ansible-playbook configmgr.cmg.prepare --tags certificate` (or the `configmgr.cmg.cmg_cert_validate` module), "
    "then in the Configuration Manager console open Administration > Cloud Services > Cloud Management Gateway, "
    "open the CMG's Properties and on the Settings tab browse to the new PFX; then update the expected thumbprint "
    "in the inventory")


def file_stem(host: str) -> str:
    """A file name for an inventory host (anything but letters, digits, ``.``, ``_`` and ``-`` becomes ``_``)."""
    return _UNSAFE.sub("_", host) or "_"


def cmg_file(host: str) -> str:
    """The page of one CMG (``.cmg.md``, so that no host name can collide with the summary files)."""
    return f"{file_stem(host)}.cmg.md"


def _failed_task_checks(result: dict[str, Any]) -> list[dict[str, str]]:
    message = str(result.get("msg") or "the check did not run")
    return [{"name": "task", "status": "fail", "message": message.splitlines()[0][:500] if message else message}]


def renewal_advice(result: dict[str, Any], renew_playbook: str | None = None) -> str | None:
    """Which certificate to renew and how, when the deployed one is expired or within its renewal window."""
    codes = {item.get("code") for item in result.get("findings") or []}
    cert = result.get("certificate") or {}
    if not codes & set(RENEWAL_CODES) or not cert:
        return None
    what = (f"Renew the certificate of {result.get('service_name')}: subject {cert.get('subject')}, thumbprint "
            f"{cert.get('thumbprint')}, issued by {cert.get('issuer')}, expires {cert.get('not_after')} "
            f"({cert.get('days_remaining')} days left).")
    how = (f"Run `ansible-playbook {renew_playbook}` for this CMG, or do it by hand: {MANUAL_RENEWAL}."
           if renew_playbook else f"How: {MANUAL_RENEWAL}.")
    return f"{what} {how}"


def cmg_entry(host: str, result: Any, fail_on: str, renew_playbook: str | None = None) -> dict[str, Any]:
    """One CMG's row: its checks, status, red/green and the facts an operator scans for."""
    result = result if isinstance(result, dict) else {"failed": True, "msg": "no result was recorded for this CMG"}
    failed_task = bool(result.get("failed")) and not result.get("checks")
    checks = _failed_task_checks(result) if failed_task else [
        {"name": str(check.get("name")), "status": str(check.get("status")), "message": str(check.get("message"))}
        for check in result.get("checks") or []]
    statuses = {check["status"] for check in checks}
    status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    cert = result.get("certificate") or {}
    return {"cmg": host, "service_name": result.get("service_name"), "status": status,
            "red": status in RED[fail_on], "checks": checks,
            "not_after": cert.get("not_after"), "days_remaining": cert.get("days_remaining"),
            "thumbprint": cert.get("thumbprint"), "subject": cert.get("subject"), "issuer": cert.get("issuer"),
            "tls_version": (result.get("tls") or {}).get("version"),
            "trust": (result.get("chain") or {}).get("trust"),
            "deployment_name": (result.get("dns") or {}).get("deployment_name"),
            "findings": [{key: str(item.get(key)) for key in ("code", "severity", "message")}
                         for item in result.get("findings") or []],
            "renewal": None if failed_task else renewal_advice(result, renew_playbook)}


def build_summary(results: dict[str, Any], fail_on: str = "warning", renew_playbook: str | None = None) -> dict[str, Any]:
    """Every CMG's entry, the counts and the verdict (``fail`` when any CMG is red)."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    entries = [cmg_entry(host, results[host], fail_on, renew_playbook) for host in sorted(results)]
    red = [entry["cmg"] for entry in entries if entry["red"]]
    counts = {status: sum(1 for entry in entries if entry["status"] == status) for status in ("pass", "warn", "fail")}
    return {"verdict": "fail" if red else "pass", "fail_on": fail_on, "red": red, "counts": counts, "cmgs": entries}


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def render_cmg_markdown(entry: dict[str, Any]) -> str:
    """The page of one CMG: status, facts, checks, findings and renewal advice."""
    lines = [f"# CMG {entry['cmg']}: {LABELS[entry['status']]}", "",
             f"- Service name: {_cell(entry['service_name'])}",
             f"- Deployment name (CNAME target): {_cell(entry['deployment_name'])}",
             f"- Certificate: {_cell(entry['subject'])}, issued by {_cell(entry['issuer'])}",
             f"- Thumbprint: {_cell(entry['thumbprint'])}",
             f"- Expires: {_cell(entry['not_after'])} ({_cell(entry['days_remaining'])} days left)",
             f"- TLS: {_cell(entry['tls_version'])}; chain trust: {_cell(entry['trust'])}", "",
             "| Check | Result | Details |", "| --- | --- | --- |"]
    lines += [f"| {check['name']} | {LABELS.get(check['status'], check['status'])} | {_cell(check['message'])} |"
              for check in entry["checks"]]
    if entry["renewal"]:
        lines += ["", "## Renewal", "", entry["renewal"]]
    return "\n".join(lines) + "\n"


def render_summary_markdown(summary: dict[str, Any]) -> str:
    """The summary table: one row per CMG, red ones first named in the verdict line."""
    counts = summary["counts"]
    verdict = (f"**FAIL**: {len(summary['red'])} CMG(s) need attention: {', '.join(summary['red'])}"
               if summary["red"] else "**PASS**: every CMG is healthy")
    lines = ["# CMG monitor", "", f"{verdict} (pass {counts['pass']}, warn {counts['warn']}, fail {counts['fail']}; "
             f"red on {' and '.join(RED[summary['fail_on']])}).", "",
             "| CMG | Service name | Result | Days left | Expires | TLS | Trust | Problems |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for entry in summary["cmgs"]:
        problems = "; ".join(f"{check['name']}: {check['message']}" for check in entry["checks"]
                             if check["status"] in ("fail", "warn"))
        lines.append(f"| [{_cell(entry['cmg'])}]({cmg_file(entry['cmg'])}) | {_cell(entry['service_name'])} | "
                     f"{LABELS[entry['status']]} | {_cell(entry['days_remaining'])} | {_cell(entry['not_after'])} | "
                     f"{_cell(entry['tls_version'])} | {_cell(entry['trust'])} | {_cell(problems)} |")
    renewals = [entry for entry in summary["cmgs"] if entry["renewal"]]
    if renewals:
        lines += ["", "## Certificates to renew", ""] + [f"- **{entry['cmg']}**: {entry['renewal']}" for entry in renewals]
    return "\n".join(lines) + "\n"


def render_junit(summary: dict[str, Any]) -> str:
    """One test suite, one test case per CMG and check (classname the CMG, name the check)."""
    cases = [(entry, check) for entry in summary["cmgs"] for check in entry["checks"]]
    red_status = RED[summary["fail_on"]]
    failures = sum(1 for _entry, check in cases if check["status"] in red_status)
    skipped = sum(1 for _entry, check in cases if check["status"] == "skip")
    suite = ET.Element("testsuite", name="cmg-monitor", tests=str(len(cases)), failures=str(failures), errors="0",
                       skipped=str(skipped))
    for entry, check in cases:
        case = ET.SubElement(suite, "testcase", classname=f"cmg.{entry['cmg']}", name=check["name"])
        if check["status"] in red_status:
            node = ET.SubElement(case, "failure", message=check["message"][:1000], type=check["status"])
            node.text = check["message"]
        elif check["status"] == "skip":
            ET.SubElement(case, "skipped", message=check["message"][:1000])
        else:
            ET.SubElement(case, "system-out").text = check["message"]
    root = ET.Element("testsuites", name="cmg-monitor", tests=suite.get("tests", "0"), failures=str(failures),
                      errors="0", skipped=str(skipped))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_all(summary: dict[str, Any]) -> dict[str, str]:
    """Every file by name: the three summary files and one Markdown page per CMG."""
    files = {SUMMARY_FILES["markdown"]: render_summary_markdown(summary), SUMMARY_FILES["junit"]: render_junit(summary),
             SUMMARY_FILES["json"]: json.dumps(summary, indent=2, sort_keys=True) + "\n"}
    for entry in summary["cmgs"]:
        files[cmg_file(entry["cmg"])] = render_cmg_markdown(entry)
    return files
