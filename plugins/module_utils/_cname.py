# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG service-name CNAME, independent of where the zone lives.

Providers (``_dns_azure``, ``_dns_rfc2136``, registered in ``_dns_core``) read and write record
sets conditionally; this module decides through the core (``_dns_core.converge``): compare with the
wanted state, respect ``on_conflict``, refuse other record types at the name, honour check mode,
build the diff and the result, and wait for propagation. It imports no provider file directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from ._dns_core import Outcome, Plan, RecordSet, check_timeout, check_ttl, converge, normalize_name, others_error, provider_class
from ._dns_resolve import NameServer, wait_for_cname, wait_for_resolvers
from ._errors import CmgError, DnsError, NamingError
from ._hostnames import normalize_fqdn
from ._naming import deployment_name, relative_record_name

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "configmgr.cmg.cmg_cname"
ON_CONFLICT = ("fail", "replace")
STATES = ("present", "absent")
MAX_TTL = 2147483647


@dataclass(frozen=True)
class CnameRequest:
    """The module's options, provider-neutral."""

    service_name: str
    target: Optional[str] = None
    state: str = "present"
    ttl: int = 3600
    metadata: dict[str, str] = field(default_factory=dict)
    on_conflict: str = "fail"
    wait: bool = True
    wait_timeout: float = 300.0
    check_mode: bool = False
    resolvers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waiting:
    """How waits measure time and pause: injected by tests (no wall clock in tests)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def wanted_target(target: Optional[str], service: str, region: Optional[str] = None,
                  cloud: Optional[str] = None) -> Optional[str]:
    """The CNAME target: ``target`` as given, or the deployment name derived from ``region``."""
    if target:
        return normalize_fqdn(target, what="target").lower()
    if region:
        return deployment_name(service, region, cloud)
    return None


def record_name_in(fqdn: str, zone: str) -> str:
    """The record name of ``fqdn`` in ``zone``; the apex is refused (no CNAME at a zone apex)."""
    name = relative_record_name(fqdn, zone)
    if name == "@":
        raise NamingError(f"{fqdn} is the apex of zone {zone}: a CNAME cannot stand at a zone apex; "
                          "use a name below the zone such as GraniteFalls." + zone)
    return name


def _same(left: Optional[str], right: Optional[str]) -> bool:
    return normalize_name(left) == normalize_name(right)


def _metadata(provider: Any, request: CnameRequest, current: RecordSet) -> dict[str, str]:
    if not provider.supports_metadata:
        return {}
    merged = dict(current.metadata)
    merged.update({str(key): str(value) for key, value in request.metadata.items()})
    merged[MANAGED_BY_KEY] = MANAGED_BY_VALUE
    return merged


def _view(state: RecordSet, fqdn: str) -> dict[str, Any]:
    if state.value is None:
        return {}
    view: dict[str, Any] = {"fqdn": fqdn, "type": "CNAME", "target": normalize_name(state.value), "ttl": state.ttl}
    if state.metadata:
        view["metadata"] = dict(sorted(state.metadata.items()))
    return view


def _plan_present(provider: Any, request: CnameRequest, target: str, fqdn: str, current: RecordSet) -> Plan:
    if current.others:
        raise others_error(fqdn, current.others)
    desired = RecordSet("CNAME", (target,), request.ttl, metadata=_metadata(provider, request, current))
    if current.value is None:
        # an empty CNAME record set (no record, but an etag) is overwritten conditionally, not created
        return Plan("create" if not current.exists else "replace", desired)
    if not _same(current.value, target) and request.on_conflict != "replace":
        raise DnsError(f"{fqdn} already is a CNAME for {normalize_name(current.value)}, not {target}; nothing changed "
                       "(set on_conflict=replace to point it at the new target)",
                       current_target=normalize_name(current.value), wanted_target=target)
    up_to_date = (_same(current.value, target) and current.ttl == desired.ttl
                  and all(current.metadata.get(key) == value for key, value in desired.metadata.items()))
    return Plan() if up_to_date else Plan("replace", desired)


def _plan_absent(request: CnameRequest, target: Optional[str], fqdn: str, current: RecordSet) -> Plan:
    if current.value is None:
        return Plan()
    if request.on_conflict != "replace" and not _same(current.value, target):
        wanted = f"not the wanted target {target}" if target else "and no target was given"
        raise DnsError(f"{fqdn} is a CNAME for {normalize_name(current.value)}, {wanted}: not deleted "
                       "(set on_conflict=replace to delete it anyway)", current_target=normalize_name(current.value))
    return Plan("delete")


def _record(outcome: Outcome, fqdn: str, zone: Optional[str], provider: Any) -> dict[str, Any]:
    return {"fqdn": fqdn, "target": normalize_name(outcome.after.value), "ttl": outcome.after.ttl,
            "etag": outcome.after.etag, "zone": zone, "provider": provider.name}


def _propagation(fqdn: str, expected: Optional[str], servers: Callable[[], list[NameServer]], timeout: float,
                 waiting: Waiting) -> list[dict[str, Any]]:
    return wait_for_cname(fqdn, expected, servers(), timeout, clock=waiting.clock, sleep=waiting.sleep)


def ensure_cname(provider: Any, fqdn: str, request: CnameRequest, target: Optional[str],
                 servers: Optional[Callable[[], list[NameServer]]] = None, waiting: Waiting = Waiting()) -> dict[str, Any]:
    """Make the CNAME at ``fqdn`` match ``request``; returns the module result (``changed``, ``record``,
    ``diff``, ``propagation``, ``propagation_skip_reason``).

    Whatever fails after a write was sent (reading the zone's name servers, the propagation wait)
    fails with ``changed`` and ``record`` as written, and ``propagation_skip_reason`` says why the wait
    did not run. ``servers`` gives the name servers to wait for (default: the provider's).
    """
    if request.state not in STATES:
        raise DnsError(f"state must be one of {', '.join(STATES)}, not {request.state!r}")
    if request.state == "present" and not target:
        raise DnsError("state=present needs the CNAME target: give target, or region to derive the deployment name")
    if request.on_conflict not in ON_CONFLICT:
        raise DnsError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, not {request.on_conflict!r}")
    fqdn = normalize_name(fqdn)
    zone = provider.zone_for(fqdn)
    record_name_in(fqdn, zone)

    def decide(current: RecordSet) -> Plan:
        if request.state == "absent":
            return _plan_absent(request, target, fqdn, current)
        return _plan_present(provider, request, target, fqdn, current)

    # other record types only matter when creating the CNAME
    outcome = converge(provider, fqdn, "CNAME", decide, check_mode=request.check_mode, others=request.state != "absent")
    result: dict[str, Any] = {
        "changed": outcome.changed,
        "record": _record(outcome, fqdn, zone, provider),
        "diff": {"before": _view(outcome.before, fqdn), "after": _view(outcome.after, fqdn)},
        "propagation": [],
        "propagation_skip_reason": _skip_reason(request),
        "resolution": [],
    }
    if result["propagation_skip_reason"] is None:
        expected = normalize_name(outcome.after.value)
        try:
            result["propagation"] = _propagation(fqdn, expected, servers or (lambda: provider.nameservers(fqdn)),
                                                 request.wait_timeout, waiting)
            if request.resolvers:
                result["resolution"] = _resolution(fqdn, expected, request, waiting)
        except CmgError as exc:
            details = dict(exc.details)
            if "propagation" not in details and "resolution" not in details:
                details["propagation_skip_reason"] = f"the zone's name servers could not be found: {exc.message}"
            details.setdefault("propagation", result["propagation"])
            details.update(changed=result["changed"], record=result["record"], diff=result["diff"])
            raise DnsError(exc.message, **details) from exc
    return result


def _resolution(fqdn: str, expected: Optional[str], request: CnameRequest, waiting: Waiting) -> list[dict[str, Any]]:
    """After the authoritative servers agree: the recursive resolvers, with the same wait and timeout."""
    from ._dns_resolve import servers_from_option  # pylint: disable=import-outside-toplevel

    return wait_for_resolvers(fqdn, expected, servers_from_option(request.resolvers), request.wait_timeout,
                              clock=waiting.clock, sleep=waiting.sleep)


def _skip_reason(request: CnameRequest) -> Optional[str]:
    if not request.wait:
        return "wait is false"
    if request.check_mode:
        return "check mode: nothing was written, so nothing was waited for"
    return None


def _propagation_servers(nameservers: Optional[list[str]]) -> Optional[Callable[[], list[NameServer]]]:
    if not nameservers:
        return None
    from ._dns_resolve import servers_from_option, split_host_port  # pylint: disable=import-outside-toplevel

    for value in nameservers:  # refused before any traffic, not after the write
        split_host_port(value)
    return lambda: servers_from_option(nameservers)


def _given(params: Mapping[str, Any], key: str, default: Any) -> Any:
    """``params[key]``, or ``default`` only when it is missing or None (0 stays 0)."""
    value = params.get(key)
    return default if value is None else value


def _request(params: Mapping[str, Any], check_mode: bool) -> CnameRequest:
    return CnameRequest(
        service_name=params["service_name"], state=params.get("state") or "present", ttl=check_ttl(_given(params, "ttl", 3600), MAX_TTL),
        metadata=dict(params.get("metadata") or {}), on_conflict=params.get("on_conflict") or "fail",
        wait=bool(_given(params, "wait", True)), wait_timeout=check_timeout(_given(params, "wait_timeout", 300)),
        check_mode=check_mode, resolvers=tuple(params.get("resolvers") or ()),
    )


def _naming_cloud(provider: Any, params: Mapping[str, Any], environ: Any) -> Optional[str]:
    cloud = getattr(provider, "cloud_name", None)
    if cloud:
        return cloud
    from ._azure import naming_cloud  # pylint: disable=import-outside-toplevel

    return naming_cloud(params.get("cloud_environment"), environ)


def run_cname(params: Mapping[str, Any], check_mode: bool = False, environ: Any = None,
              waiting: Waiting = Waiting(), **provider_kwargs: Any) -> dict[str, Any]:
    """The cmg_cname module: the module's parameters in, its result out (raises CmgError on failure)."""
    from ._dns_core import check_provider_params  # pylint: disable=import-outside-toplevel
    from ._dns_providers import DEFAULT_PROVIDER  # pylint: disable=import-outside-toplevel

    fqdn = normalize_fqdn(params["service_name"]).lower()
    request = _request(params, check_mode)
    if params.get("target") and params.get("region"):
        raise DnsError("give target or region, not both: region derives the target (the deployment name)")
    name = params.get("provider") or DEFAULT_PROVIDER
    check_provider_params(name, params)
    servers = _propagation_servers(params.get("nameservers"))
    _propagation_servers(list(request.resolvers))  # the resolvers' syntax too, before any traffic
    with provider_class(name).from_params(params, environ, **provider_kwargs) as provider:
        target = wanted_target(params.get("target"), fqdn, params.get("region"), _naming_cloud(provider, params, environ))
        result = ensure_cname(provider, fqdn, request, target, servers, waiting)
        result.update(provider.result_extras())
        return result
