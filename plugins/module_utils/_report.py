# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG readiness report: checks from the prepare steps, rendered as JSON, Markdown and JUnit XML.

The prepare role hands over the results of its steps (certificate validation, derived names, name
availability, the DNS record and its propagation); any of them may be absent because the step was
skipped, with the reason. :func:`build_report` turns them into a list of checks (pass, warn, fail,
skip), the values to type into the CMG wizard and what to fix. :func:`write_report` renders the
three files and writes them atomically, only when their content (not their timestamp) changed.

No secret and no private key ever reaches a file: :func:`scrub` drops every key that names one and
every string that holds a PEM private key, whatever a step returned. Pure Python, no Ansible.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any, Iterable

from ._errors import CmgError
from ._regions import REGIONS

STEPS = ("certificate", "names", "availability", "readiness", "dns", "propagation")
STEP_TITLES = {
    "certificate": "Certificate",
    "names": "Names",
    "availability": "Name availability",
    "readiness": "Deployment readiness",
    "dns": "DNS record",
    "propagation": "DNS propagation",
}
#: Steps that are reported only when given a result or a skip reason (a report without them keeps its rows).
OPTIONAL_STEPS = ("readiness",)
STATUSES = ("pass", "warn", "fail", "skip")
FILES = {"json": "cmg-readiness.json", "markdown": "cmg-readiness.md", "junit": "cmg-readiness.junit.xml"}
DEFAULT_MODE = 0o600
SCHEMA_VERSION = 1

SECRET_KEYS = frozenset({
    "password", "passphrase", "secret", "key_secret", "private_key", "client_secret", "certificate_password",
    "cmg_certificate_password", "cmg_dns_key_secret", "pfx_password", "token", "access_token",
})
SECRET_SUFFIXES = ("_password", "_secret", "_private_key", "_passphrase")
# Keys that change from run to run without the outcome changing, or that only repeat the inputs.
# Keys that change from run to run without the state changing; ``days_remaining`` falls by one every day,
# so a daily pipeline would rewrite the report every day (the expiry date and the expiring-soon finding stay).
VOLATILE_KEYS = frozenset({"changed", "diff", "invocation", "warnings", "deprecations", "elapsed", "attempts",
                           "days_remaining"})
REDACTED = "<redacted: private key>"
_PRIVATE_KEY_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")

SEVERITY_STATUS = {"error": "fail", "warning": "warn", "info": "pass"}
AVAILABILITY_STATUS = {"available": "pass", "owned": "pass", "soft_deleted": "fail", "taken": "fail", "invalid": "fail"}
NOT_WAITED = "the DNS step did not wait for the record to propagate (cmg_wait_for_dns is false, or check mode)"
DEFAULT_SKIP_REASON = "not run in this play (excluded by tags, or a previous step did not complete)"

Check = dict[str, str]


class ReportError(CmgError):
    """The report cannot be written (bad mode, a directory that cannot be created or written)."""


# ---------------------------------------------------------------------------------------------
# scrubbing


def is_secret_key(key: object) -> bool:
    """True for a key that names a secret (``password``, ``key_secret``, ``client_secret``...)."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in SECRET_KEYS or (lowered.endswith(SECRET_SUFFIXES) and not lowered.startswith(("has_", "is_")))


def scrub(value: Any) -> Any:
    """A copy of ``value`` without secrets, private keys, Ansible's internal keys and volatile keys.

    Drops dict keys that name a secret, ``invocation`` (the task's arguments), ``_ansible_*`` and
    the keys that change on every run (``changed``, ``diff``...); replaces any string that holds a
    PEM private key. Lists and dicts are copied recursively; other values are returned as they are.
    """
    if isinstance(value, dict):
        return {
            str(key): scrub(item)
            for key, item in value.items()
            if not is_secret_key(key) and str(key) not in VOLATILE_KEYS and not str(key).startswith("_ansible")
        }
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    if isinstance(value, str) and _PRIVATE_KEY_PEM.search(value):
        return REDACTED
    return value


# ---------------------------------------------------------------------------------------------
# checks


def _check(step: str, code: str, name: str, status: str, message: str) -> Check:
    return {"id": f"{step}.{code}", "step": step, "name": name, "status": status, "message": message}


def _failure_check(step: str, result: dict[str, Any], checks: list[Check]) -> list[Check]:
    """A ``<step>.error`` check when the step failed and none of its checks says so already."""
    if result.get("failed") and not any(check["status"] == "fail" for check in checks):
        message = str(result.get("msg") or "the step failed without a message")
        return [_check(step, "error", f"{STEP_TITLES[step]} step completed", "fail", message)]
    return []


def _certificate_summary(cert: dict[str, Any], chain: dict[str, Any]) -> str:
    parts = [f"CN={cert.get('common_name')}"]
    if cert.get("thumbprint"):
        parts.append(f"thumbprint {cert['thumbprint']}")
    if cert.get("not_after"):
        parts.append(f"expires {cert['not_after']}")
    if cert.get("key_type"):
        parts.append(f"{cert['key_type']} {cert.get('key_size')}".strip())
    if chain.get("trust"):
        parts.append(f"chain trust: {chain['trust']}")
    return ", ".join(parts)


def certificate_checks(result: dict[str, Any]) -> list[Check]:
    """Checks from a ``cmg_cert_validate`` result: the certificate read, then one check per finding."""
    checks: list[Check] = []
    cert = result.get("certificate")
    if isinstance(cert, dict):
        checks.append(_check("certificate", "read", "Certificate read", "pass",
                             _certificate_summary(cert, result.get("chain") or {})))
    else:
        checks.append(_check("certificate", "read", "Certificate read", "fail",
                             str(result.get("msg") or "the certificate could not be read")))
    for finding in result.get("findings") or []:
        code = str(finding.get("code", "finding"))
        status = SEVERITY_STATUS.get(str(finding.get("severity")), "fail")
        checks.append(_check("certificate", code, f"Certificate: {code}", status, str(finding.get("message", ""))))
    return checks + _failure_check("certificate", result, checks)


def names_checks(result: dict[str, Any]) -> list[Check]:
    """Checks from the naming dict (``cmg_names``): the names derived, then one check per problem."""
    deployment = result.get("deployment_name") or "(no region: not derived)"
    checks = [_check("names", "derived", "Names derived", "pass",
                     f"service name {result.get('service_name')}, deployment name {deployment}")]
    for index, problem in enumerate(result.get("problems") or []):
        resource = str(problem.get("resource", f"problem{index}"))
        status = SEVERITY_STATUS.get(str(problem.get("severity")), "fail")
        checks.append(_check("names", f"{resource}.{index}" if _repeats(result, resource) else resource,
                             f"Name rule: {resource}", status, str(problem.get("message", ""))))
    return checks + _failure_check("names", result, checks)


def _repeats(result: dict[str, Any], resource: str) -> bool:
    return sum(1 for problem in result.get("problems") or [] if problem.get("resource") == resource) > 1


def availability_checks(result: dict[str, Any]) -> list[Check]:
    """Checks from a ``cmg_name_available`` result: one per resource name checked."""
    checks: list[Check] = []
    heuristic = result.get("method") == "dns"
    for check_name, resource in sorted((result.get("resources") or {}).items()):
        state = str(resource.get("status", "unknown"))
        status = AVAILABILITY_STATUS.get(state, "fail")
        message = str(resource.get("message") or resource.get("reason") or state)
        if state == "owned" and resource.get("resource_id"):
            message = f"{message} (owned by this subscription: {resource['resource_id']})"
        if heuristic and status == "pass":
            status = "warn"
            message = f"{message} (DNS probe only: a heuristic, confirm with the Azure check)"
        checks.append(_check("availability", check_name, f"Name free: {check_name} {resource.get('name', '')}".rstrip(),
                             status, message))
    return checks + _failure_check("availability", result, checks)


def readiness_checks(result: dict[str, Any]) -> list[Check]:
    """Checks from a ``cmg_azure_readiness`` result: its ``checks`` as they are, the fix added to the message."""
    checks: list[Check] = []
    for entry in result.get("checks") or []:
        name = str(entry.get("name", "check"))
        status = str(entry.get("status"))
        message = str(entry.get("message") or "")
        if entry.get("fix"):
            message = f"{message}; fix: {entry['fix']}"
        checks.append(_check("readiness", name.replace(" ", "_"), f"Readiness: {name}",
                             status if status in ("pass", "warn", "fail") else "fail", message))
    return checks + _failure_check("readiness", result, checks)


def dns_checks(result: dict[str, Any]) -> list[Check]:
    """The ``dns.record`` check from a ``cmg_cname`` result (and ``dns.error`` if it failed otherwise)."""
    record = result.get("record")
    checks: list[Check] = []
    if isinstance(record, dict) and record.get("target"):
        message = (f"{record.get('fqdn')} CNAME {record.get('target')} (TTL {record.get('ttl')}, zone {record.get('zone')}, "
                   f"{record.get('provider')})")
        checks.append(_check("dns", "record", "Service name CNAME", "pass", message))
    elif result.get("failed"):
        checks.append(_check("dns", "record", "Service name CNAME", "fail", str(result.get("msg") or "the CNAME step failed")))
    else:
        checks.append(_check("dns", "record", "Service name CNAME", "fail", "the CNAME step returned no record"))
    if result.get("propagation"):  # a failure with the propagation result is the propagation's check
        return checks
    return checks + _failure_check("dns", result, checks)


def _propagation_entries(propagation: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    if isinstance(propagation, dict):
        for server, answer in sorted(propagation.items()):
            yield str(server), answer if isinstance(answer, dict) else {"answer": answer}
    elif isinstance(propagation, list):
        for entry in propagation:
            entry = entry if isinstance(entry, dict) else {"answer": entry}
            yield str(entry.get("server") or entry.get("nameserver") or "?"), entry


def propagation_checks(result: dict[str, Any]) -> list[Check]:
    """The ``propagation.servers`` check: every authoritative server answers the wanted target."""
    entries = list(_propagation_entries(result.get("propagation")))
    if not entries:
        message = str(result.get("msg") or "no name server answered") if result.get("failed") else "no name server was asked"
        return [_check("propagation", "servers", "CNAME answered by the zone's name servers", "fail", message)]
    wrong = [(server, entry) for server, entry in entries if not entry.get("ok")]
    if wrong:
        message = "; ".join(f"{server} answers {entry.get('answer', entry.get('target'))!r}" for server, entry in wrong)
        return [_check("propagation", "servers", "CNAME answered by the zone's name servers", "fail",
                       f"not yet propagated: {message}")]
    servers = ", ".join(server for server, _entry in entries)
    if result.get("failed"):
        return [_check("propagation", "servers", "CNAME answered by the zone's name servers", "fail",
                       str(result.get("msg") or f"the DNS step failed although {servers} answered"))]
    return [_check("propagation", "servers", "CNAME answered by the zone's name servers", "pass",
                   f"answered by {servers}")]


CHECKS_OF = {
    "certificate": certificate_checks,
    "names": names_checks,
    "availability": availability_checks,
    "readiness": readiness_checks,
    "dns": dns_checks,
    "propagation": propagation_checks,
}


def _step_result(step: str, results: dict[str, Any]) -> Any:
    """The result a step is judged on: the propagation is part of the DNS step's result."""
    if step == "propagation":
        dns = results.get("dns")
        if isinstance(dns, dict) and not dns.get("skipped") and dns.get("propagation"):
            return dns
        return None
    return results.get(step)


def _ran(result: Any) -> bool:
    return isinstance(result, dict) and bool(result) and not result.get("skipped")


def _skip_reason(step: str, result: Any, skipped: dict[str, str], results: dict[str, Any], default: str) -> str | None:
    """The reason the step did not run, or None when it ran."""
    if step in skipped and skipped[step]:
        return str(skipped[step])
    if step == "propagation" and "dns" in skipped:
        return "the DNS record step did not run"
    if step == "propagation" and result is None and _ran(results.get("dns")):
        return NOT_WAITED
    if not isinstance(result, dict) or not result:
        return default
    if result.get("skipped"):
        return str(result.get("skip_reason") or default)
    return None


# ---------------------------------------------------------------------------------------------
# the report model


def build_report(results: dict[str, Any], skipped: dict[str, str] | None = None,
                 default_reason: str | None = None) -> dict[str, Any]:
    """The report (everything but the timestamp) from the step results and the skip reasons.

    ``results`` maps a step (``certificate``, ``names``, ``availability``, ``dns``) to the result
    the role registered; ``skipped`` maps a step (those, and ``propagation``) to the reason it did
    not run; ``default_reason`` is the reason of a step that has neither. Returns ``status`` (pass|warn|fail), ``counts``, ``checks``, ``wizard``, ``to_fix``,
    ``skip_reasons`` and ``steps`` (the scrubbed results).
    """
    skipped = {str(key): str(value) for key, value in (skipped or {}).items() if value}
    unknown = sorted(set(results) - set(STEPS)) + sorted(set(skipped) - set(STEPS))
    if unknown:
        raise ReportError(f"unknown report step(s) {', '.join(unknown)}: use {', '.join(STEPS)}")
    clean = {step: _stable(scrub(result)) for step, result in results.items() if result is not None}
    checks: list[Check] = []
    reasons: dict[str, str] = {}
    for step in STEPS:
        result = _step_result(step, clean)
        if step in OPTIONAL_STEPS and result is None and step not in skipped:
            continue
        reason = _skip_reason(step, result, skipped, clean, default_reason or DEFAULT_SKIP_REASON)
        if reason is not None:
            reasons[step] = reason
            checks.append(_check(step, "skipped", f"{STEP_TITLES[step]} step", "skip", reason))
        else:
            checks.extend(CHECKS_OF[step](result))
    counts = {status: sum(1 for check in checks if check["status"] == status) for status in STATUSES}
    status = "fail" if counts["fail"] else "warn" if counts["warn"] else "pass"
    return {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "counts": counts,
        "wizard": wizard_values(clean),
        "checks": checks,
        "to_fix": [check for check in checks if check["status"] in ("fail", "warn")],
        "skip_reasons": reasons,
        "steps": {step: clean[step] for step in STEPS if step in clean},
    }


def _stable(result: Any) -> Any:
    """Drop a successful step's ``msg``: it may differ between a run that changed and one that did not."""
    if isinstance(result, dict) and not result.get("failed"):
        return {key: value for key, value in result.items() if key != "msg"}
    return result


def _names_of(results: dict[str, Any]) -> dict[str, Any]:
    """The naming dict: from the names step, else from the availability or certificate result."""
    for candidate in (results.get("names"), (results.get("availability") or {}).get("names"),
                      (results.get("certificate") or {}).get("names")):
        if isinstance(candidate, dict) and candidate.get("service_name") and not candidate.get("skipped"):
            return candidate
    return {}


def _region_display(region: str | None, cloud: str | None) -> str | None:
    if not region:
        return None
    display = REGIONS.get(cloud or "AzureCloud", {}).get(region)
    return f"{display[0]} ({region})" if display else region


def wizard_values(results: dict[str, Any]) -> dict[str, Any]:
    """What to type (or check) in the Configuration Manager console's Create CMG wizard."""
    names = _names_of(results)
    cert = (results.get("certificate") or {}).get("certificate") or {}
    cloud = names.get("cloud_environment")
    values: dict[str, Any] = {
        "azure_environment": cloud,
        "region": _region_display(names.get("region"), cloud),
        "service_name": names.get("service_name") or (results.get("certificate") or {}).get("service_name"),
        "deployment_name": names.get("deployment_name"),
        "certificate_thumbprint": cert.get("thumbprint"),
        "certificate_expires": cert.get("not_after"),
    }
    readiness = results.get("readiness") or {}
    if isinstance(readiness.get("vm"), dict):
        values["vm_size"] = f"{str(readiness['vm'].get('choice', '')).capitalize()} ({readiness['vm'].get('size')})"
        values["vm_instances"] = readiness["vm"].get("instances")
    if readiness.get("resource_group"):
        values["resource_group"] = readiness["resource_group"]
    if names.get("cname_required") is False:
        values["cname"] = "not needed: the service name is the deployment name"
    elif names.get("service_name") and names.get("deployment_name"):
        values["cname"] = f"{names['service_name']} CNAME {names['deployment_name']}"
    return {key: value for key, value in values.items() if value is not None}


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
STATUS_LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def _cell(text: object) -> str:
    """Markdown table cell text: one line, pipes escaped."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _title(report: dict[str, Any]) -> str:
    service = report["wizard"].get("service_name")
    return f"CMG readiness: {service}" if service else "CMG readiness"


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
        f"**Result: {STATUS_LABELS[report['status']]}** ({counts['pass']} pass, {counts['warn']} warn, "
        f"{counts['fail']} fail, {counts['skip']} skipped)",
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
    lines += [f"| {STATUS_LABELS[check['status']]} | {_cell(STEP_TITLES[check['step']])} | {_cell(check['name'])} | "
              f"{_cell(check['message'])} |" for check in report["checks"]]
    lines += ["", "## What to fix", ""]
    if report["to_fix"]:
        lines += [f"{index}. **{STATUS_LABELS[check['status']]}** {check['name']}: {check['message']}"
                  for index, check in enumerate(report["to_fix"], start=1)]
    else:
        lines.append("Nothing: every check that ran passed.")
    if report["skip_reasons"]:
        lines += ["", "## Skipped steps", ""]
        lines += [f"- {STEP_TITLES[step]}: {reason}" for step, reason in report["skip_reasons"].items()]
    return "\n".join(lines) + "\n"


def render_junit(report: dict[str, Any], timestamp: str) -> str:
    """JUnit XML (testsuites/testsuite/testcase with failure/skipped/system-out), one test case per check.

    Failed checks carry a ``failure``; skipped steps a ``skipped``; warnings pass and carry their
    message in ``system-out``. The timestamp is ISO 8601 without a zone (UTC), as the Ant and
    Jenkins JUnit schemas define it.
    """
    counts = report["counts"]
    totals = {"tests": str(len(report["checks"])), "failures": str(counts["fail"]), "errors": "0",
              "skipped": str(counts["skip"]), "time": "0"}
    suites = ET.Element("testsuites", {"name": _title(report), **totals})
    suite = ET.SubElement(suites, "testsuite", {"name": "configmgr.cmg.readiness", **totals,
                                                "timestamp": timestamp.replace("Z", "").split("+")[0]})
    for check in report["checks"]:
        case = ET.SubElement(suite, "testcase", {"classname": f"cmg.{check['step']}", "name": check["id"], "time": "0"})
        if check["status"] == "skip":
            ET.SubElement(case, "skipped", {"message": check["message"]})
        elif check["status"] == "fail":
            failure = ET.SubElement(case, "failure", {"message": check["message"], "type": "fail"})
            failure.text = f"{check['name']}: {check['message']}"
        elif check["status"] == "warn":
            ET.SubElement(case, "system-out").text = f"WARNING {check['name']}: {check['message']}"
        else:
            ET.SubElement(case, "system-out").text = check["message"]
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


RENDERERS = {"json": render_json, "markdown": render_markdown, "junit": render_junit}


def render_all(report: dict[str, Any], timestamp: str) -> dict[str, str]:
    """The three files' contents, by kind (``json``, ``markdown``, ``junit``)."""
    return {kind: render(report, timestamp) for kind, render in RENDERERS.items()}


# ---------------------------------------------------------------------------------------------
# writing


def parse_mode(mode: object) -> int:
    """A file mode from ``'0600'``, ``'600'``, ``'u=rw'``-free octal text or an int (``0o600``)."""
    if isinstance(mode, bool):
        raise ReportError(f"invalid mode {mode!r}: give an octal string such as '0600'")
    if isinstance(mode, int):
        value = mode
    elif isinstance(mode, str) and re.fullmatch(r"0?[0-7]{3,4}|0o[0-7]{3,4}", mode.strip()):
        value = int(mode.strip().replace("0o", ""), 8)
    else:
        raise ReportError(f"invalid mode {mode!r}: give an octal string such as '0600'")
    if not 0 <= value <= 0o7777:
        raise ReportError(f"invalid mode {mode!r}: give an octal string such as '0600'")
    return value


def utc_timestamp(now: datetime | None = None) -> str:
    """The generation time, ISO 8601 UTC to the second: ``2026-01-31T12:00:00Z``."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportError(f"cannot read the existing report file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        return ""


def _previous_timestamp(json_text: str | None) -> str | None:
    """The ``generated_at`` of the report on disk, or None when there is none (or it is not ours)."""
    if not json_text:
        return None
    try:
        value = json.loads(json_text).get("generated_at")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _mode_of(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportError(f"cannot read the mode of the report file {path}: {exc.strerror or exc}") from exc


def _set_modes(paths: list[str], mode: int) -> None:
    """Correct the mode of report files whose content is already right."""
    for path in paths:
        try:
            os.chmod(path, mode)
        except OSError as exc:
            raise ReportError(f"cannot set the mode of the report file {path}: {exc.strerror or exc}") from exc


def _write_atomic(directory: str, name: str, content: str, mode: int) -> str:
    """Write ``content`` to a temporary file beside ``name`` with ``mode``; return the temp path."""
    handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        os.unlink(temp)
        raise
    return temp


def _ensure_directory(directory: str) -> None:
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report directory {directory}: {exc.strerror}") from exc
    if not os.path.isdir(directory):
        raise ReportError(f"the report directory {directory} is not a directory")


def _replace_all(directory: str, contents: dict[str, str], mode: int) -> None:
    """Write every file to a temporary name first, then rename them all: no file is ever half-written."""
    temps: dict[str, str] = {}
    try:
        for kind, content in contents.items():
            temps[kind] = _write_atomic(directory, FILES[kind], content, mode)
        for kind, temp in list(temps.items()):
            os.replace(temp, os.path.join(directory, FILES[kind]))
            del temps[kind]
    except OSError as exc:
        raise ReportError(f"cannot write the report in {directory}: {exc.strerror or exc}") from exc
    finally:
        for temp in temps.values():
            if os.path.exists(temp):
                os.unlink(temp)


def _render(report: dict[str, Any], on_disk: dict[str, str | None], now: datetime | None) -> tuple[dict[str, str], str, bool]:
    """The files' contents, their timestamp, and whether they equal the files on disk.

    The report is rendered with the timestamp of the report on disk first; only when that differs from
    the files on disk is it rendered again, with the current time.
    """
    previous = _previous_timestamp(on_disk["json"])
    if previous:
        contents = render_all(report, previous)
        if contents == on_disk:
            return contents, previous, True
    timestamp = utc_timestamp(now)
    return render_all(report, timestamp), timestamp, False


def write_report(directory: str, report: dict[str, Any], mode: int = DEFAULT_MODE, check_mode: bool = False,
                 now: datetime | None = None) -> dict[str, Any]:
    """Write the three report files into ``directory`` when their content or mode changed.

    The content is compared without its timestamp: the new report is rendered with the timestamp
    of the report on disk, and nothing is written when all three files come out identical (only
    their modes are corrected). Returns ``changed``, ``paths``, ``generated_at`` and
    ``diff`` (``before``/``after`` of the Markdown page).
    """
    directory = os.path.abspath(os.path.expanduser(directory))
    paths = {kind: os.path.join(directory, name) for kind, name in FILES.items()}
    on_disk = {kind: _read(path) for kind, path in paths.items()}
    contents, timestamp, same = _render(report, on_disk, now)
    wrong_modes = [path for path in paths.values() if _mode_of(path) not in (None, mode)]
    changed = not same or bool(wrong_modes)
    if changed and not check_mode:
        if same:
            _set_modes(wrong_modes, mode)
        else:
            _ensure_directory(directory)
            _replace_all(directory, contents, mode)
    return {
        "changed": changed,
        "paths": paths,
        "generated_at": timestamp,
        "diff": {
            "before_header": paths["markdown"],
            "after_header": paths["markdown"],
            "before": on_disk["markdown"] or "",
            "after": contents["markdown"],
        },
    }
