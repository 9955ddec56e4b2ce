# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG readiness report: checks from the prepare steps, rendered as JSON, Markdown and JUnit XML.

The prepare role hands over the results of its steps (certificate validation, derived names, deployment
readiness, name availability, the DNS records and their propagation); any of them may be absent because the step
was skipped, with the reason. :func:`build_report` turns them into a list of checks (pass, warn, fail, skip, not
run, would create/change), the values to type into the CMG wizard and what to fix.

The parts, one file each:

- ``_report_checks``: statuses, :func:`scrub`, and one function per step that turns its result into rows;
- ``_report_model``: :class:`Step`, :func:`register_step` (new rows are data) and :func:`verdict`, the one rule
  for the report's status (the worst of every check);
- ``_report_render``: the JSON, Markdown and JUnit renderers (control characters escaped);
- ``_report_files``: what to write (:func:`plan_report`, the file names, :func:`mode_problem`).

This module builds the report and re-exports the names callers use. Pure Python, no Ansible.
"""

from __future__ import annotations

from typing import Any

from ._regions import REGIONS
from ._report_checks import (
    AVAILABILITY_STATUS, CHECK_STATUSES, DEFAULT_SKIP_REASON, FAIL_ON, FAILING, NOT_WAITED, REDACTED, REPORT_STATUS_OF,
    REPORT_STATUSES, RUN_STEP, SCHEMA_VERSION, SECRET_KEYS, SECRET_SUFFIXES, SEVERITY_STATUS, STATUSES, VOLATILE_KEYS,
    Check, Context, ReportError, _change_of, _check, availability_checks, certificate_checks, dns_checks, dns_records,
    is_secret_key, names_checks, propagation_checks, propagation_skip_reason, readiness_checks, scrub)
from ._report_files import (
    DEFAULT_MODE, DEFAULT_NAME, FILES, KINDS, PARTIAL_NAME, ROLE_TAGS, mode_problem, plan_report, report_name,
    report_paths, utc_timestamp)
from ._report_model import STEP_REGISTRY, STEPS, Step, register_step, registered, step_title, stops, verdict
from ._report_render import (
    RENDERERS, STATUS_LABELS, WIZARD_LABELS, render_all, render_json, render_junit, render_markdown)

__all__ = [
    "AVAILABILITY_STATUS", "CHECK_STATUSES", "DEFAULT_MODE", "DEFAULT_NAME", "DEFAULT_SKIP_REASON", "FAIL_ON", "FAILING",
    "FILES", "KINDS", "NOT_WAITED", "PARTIAL_NAME", "REDACTED", "RENDERERS", "REPORT_STATUS_OF", "REPORT_STATUSES",
    "ROLE_TAGS", "RUN_STEP", "SCHEMA_VERSION", "SECRET_KEYS", "SECRET_SUFFIXES", "SEVERITY_STATUS", "STATUS_LABELS",
    "STATUSES", "STEPS", "STEP_REGISTRY", "VOLATILE_KEYS", "WIZARD_LABELS", "Check", "Context", "ReportError", "Step",
    "availability_checks", "build_report", "certificate_checks", "dns_checks", "dns_records", "is_secret_key",
    "mode_problem", "names_checks", "plan_report", "propagation_checks", "propagation_skip_reason", "readiness_checks",
    "register_step", "registered", "render_all", "render_json", "render_junit", "render_markdown", "report_name",
    "report_paths", "scrub", "step_title", "stop_message", "stops", "utc_timestamp", "verdict", "wizard_values",
]

# ---------------------------------------------------------------------------------------------
# the report model


def _ran(result: Any) -> bool:
    return isinstance(result, dict) and bool(result) and not result.get("skipped")


def _skip_reason(step: Step, result: Any, skipped: dict[str, str], results: dict[str, Any], default: str) -> str | None:
    """The reason the step did not run, or None when it ran."""
    if step.depends_on and result is None and step.depends_on in skipped:
        return f"the {step_title(step.depends_on)} step did not run"
    if step.name == "propagation" and result is None and _ran(results.get("dns")):
        return skipped.get(step.name) or propagation_skip_reason(results.get("dns")) or NOT_WAITED
    if skipped.get(step.name):
        return skipped[step.name]
    if not isinstance(result, dict) or not result:
        return default
    if result.get("skipped"):
        return str(result.get("skip_reason") or skipped.get(step.name) or default)
    return None


def _failed_items_message(result: Any) -> str | None:
    """The message of the step's failed result, or of the failed items of a looped task (for which Ansible's own
    message is "One or more items failed")."""
    if not isinstance(result, dict):
        return None
    if not isinstance(result.get("results"), list):  # one record: the role passes the loop's only item
        return str(result["msg"]) if result.get("failed") and result.get("msg") else None
    failed = [(suffix[1:], item) for suffix, item in dns_records(result) if item.get("failed")]
    if not failed:
        return None
    return "; ".join(f"{name}: {item.get('msg')}" if name else str(item.get("msg")) for name, item in failed)


def _failure_of(failure: dict[str, Any] | None, results: dict[str, Any]) -> dict[str, str] | None:
    if not failure:
        return None
    step = str(failure.get("step") or "")
    step = step if step in registered() else ""
    message = _failed_items_message(results.get(step)) if step else None
    return {"step": step, "task": str(failure.get("task") or ""),
            "msg": message or str(failure.get("msg") or "the step failed without a message")}


def build_report(results: dict[str, Any], skipped: dict[str, str] | None = None,
                 default_reason: str | None = None, failure: dict[str, Any] | None = None,
                 check_mode: bool = False) -> dict[str, Any]:
    """The report (everything but the timestamp) from the step results and the skip reasons.

    ``results`` maps a registered step (``certificate``, ``names``, ``availability``, ``dns``...) to the
    result the role registered; ``skipped`` maps a step to the reason it did not run by decision;
    ``default_reason`` is the reason of a step that has neither. ``failure`` (``step``, ``task``, ``msg``)
    describes a run that stopped: the failed step gets a ``fail`` check (``<step>.error``, or ``run.error``
    when no step claims it) unless its own checks fail already, and every later step that did not run is
    ``not_run``. ``check_mode`` turns a change into ``would_create``/``would_change``.

    Returns ``status`` (the :func:`verdict`), ``counts``, ``checks``, ``wizard``, ``to_fix``,
    ``skip_reasons``, ``not_run``, ``check_mode``, ``failure`` and ``steps`` (the scrubbed results).
    """
    skipped = {str(key): str(value) for key, value in (skipped or {}).items() if value}
    unknown = sorted(set(results) - set(registered())) + sorted(set(skipped) - set(registered()))
    if unknown:
        raise ReportError(f"unknown report step(s) {', '.join(unknown)}: use {', '.join(registered())}")
    changes = {step: _change_of(result) for step, result in results.items()}
    records = {step: tuple(_change_of(item) for item in result["results"] if isinstance(item, dict))
               for step, result in results.items() if isinstance(result, dict) and isinstance(result.get("results"), list)}
    clean = {step: _stable(scrub(result)) for step, result in results.items() if result is not None}
    stop = _failure_of(failure, clean)
    stopped_reason = f"not run: the role stopped at '{stop['task']}'" if stop and stop["task"] else \
        "not run: an earlier step failed"
    checks: list[Check] = []
    reasons: dict[str, str] = {}
    not_run: dict[str, str] = {}
    past_failure = bool(stop and not stop["step"])
    for step in registered().values():
        result = step.result(clean)
        if step.optional and result is None and step.name not in skipped and not past_failure:
            continue
        reason = _skip_reason(step, result, skipped, clean, default_reason or DEFAULT_SKIP_REASON)
        changed, existed = changes.get(step.name, (False, False))
        context = Context(check_mode=check_mode, changed=changed, existed=existed, records=records.get(step.name, ()))
        if stop and step.name == stop["step"]:
            own = step.checks(result, context) if reason is None else []
            checks.extend(own)
            # A later step judged on this step's result (the propagation of a written record) carries the failure.
            carried = any(later.depends_on == step.name and isinstance(later.result(clean), dict)
                          and later.result(clean).get("failed") for later in registered().values())
            if not carried and not any(check["status"] in FAILING for check in own):
                checks.append(_check(step.name, "error", f"{step.title} step completed", "fail", stop["msg"]))
            past_failure = True
        elif reason is None:
            checks.extend(step.checks(result, context))
        elif past_failure:
            message = stopped_reason if reason == (default_reason or DEFAULT_SKIP_REASON) \
                else f"{stopped_reason} (and it would not have run: {reason})"
            not_run[step.name] = message
            checks.append(_check(step.name, "not_run", f"{step.title} step", "not_run", message))
        else:
            reasons[step.name] = reason
            checks.append(_check(step.name, "skipped", f"{step.title} step", "skip", reason))
    if stop and not stop["step"]:
        checks.insert(0, _check(RUN_STEP, "error", "Role run completed", "fail",
                                f"{stop['msg']} (at '{stop['task']}')" if stop["task"] else stop["msg"]))
    counts = {status: sum(1 for check in checks if check["status"] == status) for status in CHECK_STATUSES}
    return {
        "schema_version": SCHEMA_VERSION,
        "status": verdict(checks),
        "check_mode": bool(check_mode),
        "counts": counts,
        "wizard": wizard_values(clean),
        "checks": checks,
        "to_fix": [check for check in checks if check["status"] in ("fail", "not_run", "warn")],
        "skip_reasons": reasons,
        "not_run": not_run,
        "failure": stop,
        "steps": {step: clean[step] for step in registered() if step in clean},
    }


def stop_message(report: dict[str, Any], fail_on: str, where: str) -> str | None:
    """The one-line message the role fails with, or None when the report does not stop the run.

    A failed run stops with the failed step's message; otherwise the report stops when its status is one
    ``fail_on`` does not accept, with every check to fix. ``where`` is the report's path.
    """
    if report.get("failure"):
        return f"{report['failure']['msg']} (readiness report: {where})"
    if not stops(report["status"], fail_on):
        return None
    fixes = "; ".join(f"{check['id']}: {check['message']}" for check in report["to_fix"]
                      if check["status"] in FAILING or (fail_on == "warning" and check["status"] == "warn"))
    return f"CMG readiness {report['status'].upper()}: {fixes} (readiness report: {where})"


def _stable(result: Any) -> Any:
    """Drop a successful step's ``msg``: it may differ between a run that changed and one that did not."""
    if isinstance(result, dict) and isinstance(result.get("results"), list):  # a looped task: each item too
        result = dict(result, results=[_stable(item) for item in result["results"]])
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
