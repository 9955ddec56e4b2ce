# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG readiness report: checks from the prepare steps, rendered as JSON, Markdown and JUnit XML.

The prepare role hands over the results of its steps (certificate validation, derived names, name
availability, the DNS record and its propagation); any of them may be absent because the step was
skipped, with the reason. :func:`build_report` turns them into a list of checks (pass, warn, fail,
skip, not run, would create/change), the values to type into the CMG wizard and what to fix.
:func:`verdict` is the one rule for the report's status: the worst of every check. New rows are
added as data with :func:`register_step` (a :class:`Step`), never by touching the verdict.
:func:`plan_report` renders the three files and says whether they differ (not counting their
timestamp) from those on disk; the module writes them with Ansible's file conventions.

No secret and no private key ever reaches a file: :func:`scrub` drops every key that names one and
every string that holds a PEM private key, whatever a step returned. Pure Python, no Ansible.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ._errors import CmgError
from ._regions import REGIONS

# Every status a check can have, and the report status it counts as (the verdict is the worst of them).
# ``not_run``: a step that never ran because an earlier step failed; ``would_create``/``would_change``: check mode
# found something a real run would write (not a pass of the real state).
CHECK_STATUSES = ("pass", "warn", "fail", "skip", "not_run", "would_create", "would_change")
STATUSES = CHECK_STATUSES  # the name the docs test and older callers use
REPORT_STATUSES = ("pass", "would_change", "warn", "fail")
REPORT_STATUS_OF = {"pass": "pass", "skip": "pass", "would_create": "would_change", "would_change": "would_change",
                    "warn": "warn", "not_run": "fail", "fail": "fail"}
FAILING = frozenset(status for status, verdict in REPORT_STATUS_OF.items() if verdict == "fail")
# cmg_fail_on: which report statuses stop the run.
FAIL_ON = {"error": ("fail",), "warning": ("fail", "warn"), "never": ()}
DEFAULT_NAME = "cmg-readiness"
PARTIAL_NAME = "cmg-readiness-partial"
KINDS = {"json": ".json", "markdown": ".md", "junit": ".junit.xml"}
FILES = {kind: DEFAULT_NAME + suffix for kind, suffix in KINDS.items()}
DEFAULT_MODE = 0o600
SCHEMA_VERSION = 2

SECRET_KEYS = frozenset({
    "password", "passphrase", "secret", "key_secret", "private_key", "client_secret", "pfx_password", "token",
    "access_token",
})
SECRET_SUFFIXES = ("_password", "_secret", "_private_key", "_passphrase")
# Keys that change from run to run without the state changing; ``days_remaining`` falls by one every day,
# so a daily pipeline would rewrite the report every day (the expiry date and the expiring-soon finding stay).
VOLATILE_KEYS = frozenset({"changed", "diff", "invocation", "warnings", "deprecations", "elapsed", "attempts",
                           "days_remaining"})
REDACTED = "<redacted: private key>"
_PRIVATE_KEY_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")

SEVERITY_STATUS = {"error": "fail", "warning": "warn", "info": "pass"}
AVAILABILITY_STATUS = {"available": "pass", "owned": "pass", "soft_deleted": "fail", "taken": "fail", "invalid": "fail"}
NOT_WAITED = "the DNS step did not wait for the record to propagate and gave no reason"
DEFAULT_SKIP_REASON = "not run in this play (excluded by tags)"
RUN_STEP = "run"  # the pseudo-step of a failure that no step claims

Check = dict[str, str]


class ReportError(CmgError):
    """The report cannot be written (a directory that cannot be created or written)."""


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


@dataclass(frozen=True)
class Context:
    """What a step's checks may need besides its result: check mode, and whether the step reported a change."""

    check_mode: bool = False
    changed: bool = False
    existed: bool = False  # the diff's ``before`` is not empty: a change replaces something
    records: tuple[tuple[bool, bool], ...] = ()  # (changed, existed) per item of a looped task (several records)


def _check(step: str, code: str, name: str, status: str, message: str) -> Check:
    return {"id": f"{step}.{code}", "step": step, "name": name, "status": status, "message": message}


def _failure_check(step: str, result: dict[str, Any], checks: list[Check]) -> list[Check]:
    """A ``<step>.error`` check when the step failed and none of its checks says so already."""
    if result.get("failed") and not any(check["status"] in FAILING for check in checks):
        message = str(result.get("msg") or "the step failed without a message")
        return [_check(step, "error", f"{step_title(step)} step completed", "fail", message)]
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


def certificate_checks(result: dict[str, Any], _context: Context = Context()) -> list[Check]:
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


def names_checks(result: dict[str, Any], _context: Context = Context()) -> list[Check]:
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


def availability_checks(result: dict[str, Any], _context: Context = Context()) -> list[Check]:
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


def readiness_checks(result: dict[str, Any], _context: Context = Context()) -> list[Check]:
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


def _record_text(record: dict[str, Any]) -> str:
    return (f"{record.get('fqdn')} CNAME {record.get('target')} (TTL {record.get('ttl')}, zone {record.get('zone')}, "
            f"{record.get('provider')})")


def _written(result: dict[str, Any]) -> bool:
    record = result.get("record")
    return isinstance(record, dict) and bool(record.get("target"))


def dns_records(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(suffix, result) per DNS record: one ``cmg_cname`` result (suffix ``""``), or a looped task's ``results``
    (the role's ``cmg_dns_records``), each named by ``record_names[<loop index>]`` as ``.<name>`` when there are
    several."""
    items = result.get("results")
    if not isinstance(items, list):
        return [("", result)]
    items = [item for item in items if isinstance(item, dict)]
    names = result.get("record_names") or []
    records = []
    for position, item in enumerate(items):
        index = item.get(str(item.get("ansible_loop_var") or "item"), position)
        name = names[index] if isinstance(index, int) and 0 <= index < len(names) and names[index] else str(position)
        records.append((f".{name}" if len(items) > 1 else "", item))
    return records


def _change_of(result: Any) -> tuple[bool, bool]:
    """(changed, existed) of one module result: whether it changed, and whether its diff replaced something."""
    if not isinstance(result, dict):
        return False, False
    diff = result.get("diff")
    return bool(result.get("changed")), isinstance(diff, dict) and bool(diff.get("before"))


def dns_checks(result: dict[str, Any], context: Context = Context()) -> list[Check]:
    """A ``dns.record`` check per record (``dns.record.<name>`` for several), and ``dns.error`` if it failed otherwise.

    A record the module returns was written (or found right), whatever failed after the write: the failure
    then belongs to the propagation row. In check mode a change is ``would_create``/``would_change``, per record.
    A failed record leaves the others' rows as they are.
    """
    checks: list[Check] = []
    several = isinstance(result.get("results"), list)
    for position, (suffix, item) in enumerate(dns_records(result)):
        if several:
            changed, existed = context.records[position] if position < len(context.records) else (False, False)
            item_context = Context(check_mode=context.check_mode, changed=changed, existed=existed)
        else:
            item_context = context
        checks.extend(_dns_record_checks(item, suffix, item_context))
    items = [item for _suffix, item in dns_records(result)]
    if any(item.get("failed") and _written(item) for item in items):
        return checks  # a failure after a write is the propagation's check, counted once
    return checks + _failure_check("dns", result, checks)


def _dns_record_checks(result: dict[str, Any], suffix: str, context: Context) -> list[Check]:
    """The ``dns.record[.<name>]`` check of one ``cmg_cname`` result."""
    record = result.get("record")
    code, title = f"record{suffix}", f"Service name CNAME ({suffix[1:]})" if suffix else "Service name CNAME"
    if result.get("skipped"):
        return [_check("dns", code, title, "skip", str(result.get("skip_reason") or "skipped"))]
    if context.check_mode and context.changed:
        status = "would_change" if context.existed else "would_create"
        target = record.get("target") if isinstance(record, dict) else None
        wanted = f" pointing at {target}" if target else ""
        return [_check("dns", code, title, status, f"check mode: a real run would {status.split('_')[1]} the CNAME{wanted}")]
    if _written(result):
        return [_check("dns", code, title, "pass", _record_text(record))]
    if result.get("failed"):
        return [_check("dns", code, title, "fail", str(result.get("msg") or "the CNAME step failed"))]
    return [_check("dns", code, title, "fail", "the CNAME step returned no record")]


def _propagation_entries(propagation: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    if isinstance(propagation, dict) and isinstance(propagation.get("servers"), (dict, list)):
        propagation = propagation["servers"]
    if isinstance(propagation, dict):
        for server, answer in sorted(propagation.items()):
            yield str(server), answer if isinstance(answer, dict) else {"answer": answer}
    elif isinstance(propagation, list):
        for entry in propagation:
            entry = entry if isinstance(entry, dict) else {"answer": entry}
            yield str(entry.get("server") or entry.get("nameserver") or "?"), entry


def _own_skip_reason(result: Any) -> str | None:
    if isinstance(result, dict) and result.get("propagation_skip_reason"):
        return str(result["propagation_skip_reason"])
    return None


def propagation_skip_reason(dns: Any) -> str | None:
    """Why the DNS step did not wait, as ``cmg_cname`` returns it (``propagation_skip_reason``), or None.

    With several records: their one reason, or each record's (``public: wait is false; ...``).
    """
    if not isinstance(dns, dict):
        return None
    reasons = [(suffix[1:], _own_skip_reason(item)) for suffix, item in dns_records(dns) if not item.get("skipped")]
    distinct = {reason for _name, reason in reasons if reason}
    if not distinct:
        return None
    if len(distinct) == 1 and all(reason for _name, reason in reasons):
        return distinct.pop()
    return "; ".join(f"{name}: {reason}" for name, reason in reasons if reason)


def propagation_checks(result: dict[str, Any], _context: Context = Context()) -> list[Check]:
    """Per DNS record: ``propagation.servers[.<name>]`` (every authoritative server answers the wanted target) and
    ``propagation.resolvers[.<name>]`` when recursive resolvers were asked."""
    checks: list[Check] = []
    for suffix, item in dns_records(result):
        if item.get("skipped"):
            continue
        if suffix and not list(_propagation_entries(item.get("propagation"))) and not item.get("resolution") \
                and not (item.get("failed") and _written(item)):
            title = f"CNAME answered by the zone's name servers ({suffix[1:]})"
            if item.get("failed"):
                checks.append(_check("propagation", f"servers{suffix}", title, "not_run",
                                     "not run: the record was not written"))
            else:
                checks.append(_check("propagation", f"servers{suffix}", title, "skip",
                                     _own_skip_reason(item) or NOT_WAITED))
            continue
        checks.extend(_servers_checks(item, suffix))
        checks.extend(_resolver_checks(item, suffix))
    return checks


def _resolver_checks(result: dict[str, Any], suffix: str) -> list[Check]:
    """``propagation.resolvers``: every recursive resolver answers the wanted target (a stale one says for how long)."""
    entries = [entry for entry in result.get("resolution") or [] if isinstance(entry, dict)]
    if not entries:
        return []
    title = "CNAME answered by the recursive resolvers" + (f" ({suffix[1:]})" if suffix else "")
    wrong = [entry for entry in entries if not entry.get("ok")]
    if wrong:
        message = "; ".join(f"{entry.get('resolver')} still answers {entry.get('answer')!r}"
                            + (f" (cached for up to {entry['cached_for']} s)" if entry.get("cached_for") else "")
                            for entry in wrong)
        return [_check("propagation", f"resolvers{suffix}", title, "fail", message)]
    return [_check("propagation", f"resolvers{suffix}", title, "pass",
                   "answered by " + ", ".join(str(entry.get("resolver")) for entry in entries))]


def _servers_checks(result: dict[str, Any], suffix: str = "") -> list[Check]:
    """``propagation.servers``: every authoritative server of one record answers the wanted target."""
    title = "CNAME answered by the zone's name servers" + (f" ({suffix[1:]})" if suffix else "")
    code = f"servers{suffix}"
    entries = list(_propagation_entries(result.get("propagation")))
    if not entries:
        reason = _own_skip_reason(result)
        if result.get("failed"):
            message = str(result.get("msg") or "no name server answered")
            message = f"{message} (not waited: {reason})" if reason and reason not in message else message
        else:
            message = f"not waited: {reason}" if reason else "no name server was asked"
        return [_check("propagation", code, title, "fail", message)]
    wrong = [(server, entry) for server, entry in entries if not entry.get("ok")]
    if wrong:
        message = "; ".join(f"{server} answers {entry.get('answer', entry.get('target'))!r}" for server, entry in wrong)
        return [_check("propagation", code, title, "fail", f"not yet propagated: {message}")]
    servers = ", ".join(server for server, _entry in entries)
    if result.get("failed") and not result.get("resolution"):
        return [_check("propagation", code, title, "fail",
                       str(result.get("msg") or f"the DNS step failed although {servers} answered"))]
    return [_check("propagation", code, title, "pass", f"answered by {servers}")]


# ---------------------------------------------------------------------------------------------
# the steps: data, in the order they run


def _own_result(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda results: results.get(name)


def _propagation_result(results: dict[str, Any]) -> Any:
    """The propagation is part of the DNS step's result: judged when a record was waited for, or failed after a write."""
    dns = results.get("dns")
    if not isinstance(dns, dict) or dns.get("skipped"):
        return None
    for _suffix, item in dns_records(dns):
        if item.get("skipped"):
            continue
        if list(_propagation_entries(item.get("propagation"))) or item.get("resolution"):
            return dns
        if item.get("failed") and _written(item):
            return dns  # written, then the wait (or what precedes it) failed
    return None


@dataclass(frozen=True)
class Step:
    """One row group of the report: its name, title, how its result is found and how it is judged.

    ``checks(result, context)`` returns the step's checks; the verdict rule (:func:`verdict`) needs no
    change for a new step. ``depends_on`` names a step whose absence explains this one's.
    """

    name: str
    title: str
    checks: Callable[[dict[str, Any], Context], list[Check]]
    result_of: Callable[[dict[str, Any]], Any] | None = None
    depends_on: str | None = None
    optional: bool = False  # reported only with a result or a reason, or as not run after a failure before it

    def result(self, results: dict[str, Any]) -> Any:
        """The result this step is judged on, from all the step results."""
        return (self.result_of or _own_result(self.name))(results)


STEP_REGISTRY: dict[str, Step] = {}


def register_step(step: Step, after: str | None = None) -> None:
    """Add a step to the report (after ``after``, else at the end). The extension point for new rows."""
    if step.name in STEP_REGISTRY or step.name == RUN_STEP:
        raise ValueError(f"report step {step.name!r} exists already")
    items = list(STEP_REGISTRY.items())
    index = len(items) if after is None else [name for name, _step in items].index(after) + 1
    items.insert(index, (step.name, step))
    STEP_REGISTRY.clear()
    STEP_REGISTRY.update(items)


for _step in (Step("certificate", "Certificate", certificate_checks),
              Step("names", "Names", names_checks),
              Step("readiness", "Deployment readiness", readiness_checks, optional=True),
              Step("availability", "Name availability", availability_checks),
              Step("dns", "DNS record", dns_checks),
              Step("propagation", "DNS propagation", propagation_checks, _propagation_result, depends_on="dns")):
    register_step(_step)
STEPS = tuple(STEP_REGISTRY)


def step_title(step: str) -> str:
    """The title of a step (``run`` for a failure no step claims)."""
    if step == RUN_STEP:
        return "Role run"
    return STEP_REGISTRY[step].title if step in STEP_REGISTRY else step


# ---------------------------------------------------------------------------------------------
# the verdict


def verdict(checks: Iterable[Check]) -> str:
    """The report status: the worst of every check (``fail`` > ``warn`` > ``would_change`` > ``pass``).

    A ``not_run`` check counts as ``fail``; ``skip`` as ``pass``; ``would_create``/``would_change`` (check mode)
    as ``would_change``. An empty list is ``pass``.
    """
    worst = "pass"
    for check in checks:
        status = REPORT_STATUS_OF[check["status"]]
        if REPORT_STATUSES.index(status) > REPORT_STATUSES.index(worst):
            worst = status
    return worst


def stops(status: str, fail_on: str) -> bool:
    """Whether a report status stops the run under ``cmg_fail_on`` (``error``, ``warning``, ``never``)."""
    if fail_on not in FAIL_ON:
        raise ReportError(f"unknown fail_on {fail_on!r}: use {', '.join(FAIL_ON)}")
    return status in FAIL_ON[fail_on]


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
    step = step if step in STEP_REGISTRY else ""
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
    unknown = sorted(set(results) - set(STEP_REGISTRY)) + sorted(set(skipped) - set(STEP_REGISTRY))
    if unknown:
        raise ReportError(f"unknown report step(s) {', '.join(unknown)}: use {', '.join(STEP_REGISTRY)}")
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
    for step in STEP_REGISTRY.values():
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
                          and later.result(clean).get("failed") for later in STEP_REGISTRY.values())
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
        "steps": {step: clean[step] for step in STEP_REGISTRY if step in clean},
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


# ---------------------------------------------------------------------------------------------
# what to write (the module writes it with Ansible's file conventions: atomic_move, file attributes)


# The prepare role's step tags: a run that leaves any of them out is partial.
ROLE_TAGS = ("certificate", "names", "availability", "dns")


def report_name(run_tags: Iterable[str] | None = None, skip_tags: Iterable[str] | None = None) -> str:
    """The files' base name: ``cmg-readiness`` for a full run, ``cmg-readiness-partial`` for a run limited by tags.

    A run is partial when ``--tags`` or ``--skip-tags`` leave out one of the role's steps (other tags, such as
    molecule's ``--skip-tags notest``, do not count). A partial run never overwrites the report of a full run.
    """
    run = {str(tag) for tag in run_tags or ["all"]}
    skip = {str(tag) for tag in skip_tags or []}
    left_out = [tag for tag in ROLE_TAGS if not ("all" in run or tag in run) or tag in skip or "all" in skip]
    return PARTIAL_NAME if left_out else DEFAULT_NAME


def report_paths(directory: str, name: str = DEFAULT_NAME) -> dict[str, str]:
    """The three files by kind (``json``, ``markdown``, ``junit``) in ``directory``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise ReportError(f"invalid report name {name!r}: use letters, digits, '.', '_' and '-'")
    directory = os.path.abspath(os.path.expanduser(directory))
    return {kind: os.path.join(directory, name + suffix) for kind, suffix in KINDS.items()}


_SYMBOLIC_CLAUSE = re.compile(r"[ugoa]*([-+=][rwxXstugo]*)+")


def mode_problem(mode: Any) -> str | None:
    """One line when the report ``mode`` asks for more than permission bits (setuid, setgid, sticky), else None.

    Octal (``"0640"``, ``"7777"``, an integer) must stay within ``0o777``; a symbolic mode (``u=rw,g=r``) must not
    name ``s`` or ``t``. Any other syntax is left to Ansible's own mode check, which words it.
    """
    if mode is None:
        return None
    if isinstance(mode, int) and not isinstance(mode, bool):
        bits = mode
    elif isinstance(mode, str) and re.fullmatch(r"0?o?[0-7]{1,5}", mode.strip()):
        bits = int(mode.strip().replace("o", ""), 8)
    elif isinstance(mode, str) and all(_SYMBOLIC_CLAUSE.fullmatch(part) for part in mode.split(",")):
        if any(letter in re.sub(r"^[ugoa]*", "", part) for part in mode.split(",") for letter in "st"):
            return (f"mode {mode!r} sets setuid, setgid or the sticky bit: the report files take permission bits only "
                    "(r, w, x for u, g, o)")
        return None
    else:
        return None
    if bits & ~0o777:
        return (f"mode {oct(bits)[2:].zfill(4) if isinstance(mode, int) else mode.strip()!r} sets setuid, setgid or "
                "the sticky bit: the report files take permission bits only (0000 to 0777)")
    return None


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


def plan_report(directory: str, report: dict[str, Any], name: str = DEFAULT_NAME,
                now: datetime | None = None) -> dict[str, Any]:
    """What the report files should hold, and whether the files on disk already do.

    The content is compared without its timestamp: the report is rendered with the timestamp of the
    report on disk first, and only when that differs from the files is it rendered with the current time.
    Returns ``paths``, ``contents`` and ``before`` (by kind), ``generated_at`` and ``same``.
    """
    paths = report_paths(directory, name)
    on_disk = {kind: _read(path) for kind, path in paths.items()}
    previous = _previous_timestamp(on_disk["json"])
    if previous:
        contents = render_all(report, previous)
        if contents == on_disk:
            return {"paths": paths, "contents": contents, "before": on_disk, "generated_at": previous, "same": True}
    timestamp = utc_timestamp(now)
    return {"paths": paths, "contents": render_all(report, timestamp), "before": on_disk, "generated_at": timestamp,
            "same": False}
