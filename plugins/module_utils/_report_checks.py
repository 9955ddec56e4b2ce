# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness report's checks: statuses, scrubbing, and one function per step that turns a step's result into rows.

Each ``*_checks(result, context)`` returns the rows of one step (``certificate``, ``names``, ``readiness``,
``availability``, ``dns``, ``propagation``); :mod:`._report_model` registers them as steps and holds the verdict.
The DNS rows cover one ``cmg_cname`` result or a looped task's ``results`` (several records, :func:`dns_records`).
No secret and no private key ever reaches a file: :func:`scrub` drops every key that names one and every string
that holds a PEM private key, whatever a step returned. Pure Python, no Ansible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ._errors import CmgError

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
#: The built-in steps' titles, in report order (``_report_model`` registers them with these titles).
STEP_TITLES = {"certificate": "Certificate", "names": "Names", "readiness": "Deployment readiness",
               "availability": "Name availability", "dns": "DNS record", "propagation": "DNS propagation"}

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
        return [_check(step, "error", f"{STEP_TITLES.get(step, step)} step completed", "fail", message)]
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
