# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG service-name CNAME, independent of where the zone lives.

A provider (Azure DNS in ``_dns_azure``, an RFC 2136 server in ``_dns_rfc2136``) reads the name
and writes conditionally; this module decides what to do: compare with the wanted state, respect
``on_conflict``, refuse other record types at the name, retry once when a conditional write loses a
race, honour check mode, build the diff and the result, and wait for propagation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from ._dns_resolve import NameServer, normalize_name, wait_for_cname
from ._errors import DnsError, NamingError
from ._naming import deployment_name, normalize_fqdn, relative_record_name

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "configmgr.cmg.cmg_cname"
ON_CONFLICT = ("fail", "replace")


class RaceError(DnsError):
    """A conditional write failed because the record changed after it was read."""


@dataclass
class RecordState:
    """What the name holds now: its CNAME (``target`` None when there is none) and other record types."""

    target: Optional[str] = None
    ttl: Optional[int] = None
    etag: Optional[str] = None
    metadata: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Desired:
    """The record set to write."""

    target: str
    ttl: int
    metadata: dict[str, str]


class Provider(Protocol):
    """Where the zone lives. Writes are conditional and raise RaceError when the record changed."""

    name: str
    zone: str
    record_name: str
    supports_metadata: bool

    def read(self, others: bool = True) -> RecordState:
        """The current state of the name; ``others=False``: other record types are not needed."""

    def create(self, desired: Desired) -> RecordState:
        """Create the CNAME; only if the name holds nothing."""

    def replace(self, current: RecordState, desired: Desired) -> RecordState:
        """Overwrite the CNAME; only if it still is ``current``."""

    def delete(self, current: RecordState) -> None:
        """Delete the CNAME; only if it still is ``current``."""

    def nameservers(self) -> list[NameServer]:
        """The zone's authoritative name servers."""


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


def _metadata(provider: Provider, request: CnameRequest, current: RecordState) -> dict[str, str]:
    if not provider.supports_metadata:
        return {}
    merged = dict(current.metadata)
    merged.update({str(key): str(value) for key, value in request.metadata.items()})
    merged[MANAGED_BY_KEY] = MANAGED_BY_VALUE
    return merged


def _up_to_date(current: RecordState, desired: Desired) -> bool:
    return (_same(current.target, desired.target) and current.ttl == desired.ttl
            and all(current.metadata.get(key) == value for key, value in desired.metadata.items()))


def _others_error(fqdn: str, others: list[str]) -> DnsError:
    named = ", ".join(sorted(others)) or "another record set"
    return DnsError(f"{fqdn} already has {named} record(s): a CNAME cannot coexist with other "
                    "records and this module never deletes them; remove them or choose another name",
                    other_records=sorted(others))


def _view(state: RecordState, fqdn: str) -> dict[str, Any]:
    if state.target is None:
        return {}
    view: dict[str, Any] = {"fqdn": fqdn, "type": "CNAME", "target": normalize_name(state.target), "ttl": state.ttl}
    if state.metadata:
        view["metadata"] = dict(sorted(state.metadata.items()))
    return view


class _Plan:
    """One decision: what to write given the current state (None: nothing)."""

    def __init__(self, action: Optional[str], after: RecordState, desired: Optional[Desired] = None) -> None:
        self.action = action
        self.after = after
        self.desired = desired


def _plan_present(provider: Provider, request: CnameRequest, target: str, fqdn: str, current: RecordState) -> _Plan:
    if current.others:
        raise _others_error(fqdn, current.others)
    desired = Desired(target, request.ttl, _metadata(provider, request, current))
    after = RecordState(desired.target, desired.ttl, current.etag, desired.metadata)
    if current.target is None:
        # an empty CNAME record set (no record, but an etag) is overwritten conditionally, not created
        return _Plan("create" if current.etag is None else "replace", after, desired)
    if not _same(current.target, target) and request.on_conflict != "replace":
        raise DnsError(f"{fqdn} already is a CNAME for {normalize_name(current.target)}, not {target}; nothing changed "
                       "(set on_conflict=replace to point it at the new target)",
                       current_target=normalize_name(current.target), wanted_target=target)
    if _up_to_date(current, desired):
        return _Plan(None, current)
    return _Plan("replace", after, desired)


def _plan_absent(request: CnameRequest, target: Optional[str], fqdn: str, current: RecordState) -> _Plan:
    if current.target is None:
        return _Plan(None, current)
    if request.on_conflict != "replace" and not _same(current.target, target):
        wanted = f"not the wanted target {target}" if target else "and no target was given"
        raise DnsError(f"{fqdn} is a CNAME for {normalize_name(current.target)}, {wanted}: not deleted "
                       "(set on_conflict=replace to delete it anyway)", current_target=normalize_name(current.target))
    return _Plan("delete", RecordState())


def _apply(provider: Provider, plan: _Plan, current: RecordState) -> RecordState:
    if plan.action == "create":
        return provider.create(plan.desired)
    if plan.action == "replace":
        return provider.replace(current, plan.desired)
    provider.delete(current)
    return RecordState()


def _decide(provider: Provider, request: CnameRequest, target: Optional[str], fqdn: str,
            current: RecordState) -> _Plan:
    if request.state == "absent":
        return _plan_absent(request, target, fqdn, current)
    return _plan_present(provider, request, target, fqdn, current)


def ensure_cname(provider: Provider, request: CnameRequest, target: Optional[str],
                 servers: Optional[Callable[[], list[NameServer]]] = None) -> dict[str, Any]:
    """Make the CNAME match ``request``; returns the module result (``changed``, ``record``, ``diff``, ``propagation``).

    A conditional write that loses a race is retried once after reading again; a second lost race fails.
    ``servers`` gives the name servers to wait for (default: the provider's).
    """
    if request.state == "present" and not target:
        raise DnsError("state=present needs the CNAME target: give target, or region to derive the deployment name")
    if request.on_conflict not in ON_CONFLICT:
        raise DnsError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, not {request.on_conflict!r}")
    fqdn = f"{provider.record_name}.{provider.zone}".lower()
    others = request.state != "absent"  # other record types only matter when creating the CNAME
    current = provider.read(others=others)
    before = current
    plan = _decide(provider, request, target, fqdn, current)
    result_state = plan.after
    if plan.action and not request.check_mode:
        try:
            result_state = _apply(provider, plan, current)
        except RaceError:
            current = provider.read(others=others)
            before = current
            plan = _decide(provider, request, target, fqdn, current)
            result_state = plan.after
            if plan.action:
                try:
                    result_state = _apply(provider, plan, current)
                except RaceError as exc:
                    raise DnsError(f"{fqdn} was changed by someone else twice while this task updated it; nothing "
                                   f"was overwritten, run the task again ({exc})") from exc
    result: dict[str, Any] = {
        "changed": plan.action is not None,
        "record": {"fqdn": fqdn, "target": normalize_name(result_state.target), "ttl": result_state.ttl,
                   "etag": result_state.etag, "zone": provider.zone, "provider": provider.name},
        "diff": {"before": _view(before, fqdn), "after": _view(plan.after, fqdn)},
        "propagation": [],
    }
    if request.wait and not request.check_mode:
        expected = normalize_name(result_state.target)
        found = (servers or provider.nameservers)()
        try:
            result["propagation"] = wait_for_cname(fqdn, expected, found, request.wait_timeout)
        except DnsError as exc:
            raise DnsError(exc.message, changed=result["changed"], record=result["record"], **exc.details) from exc
    return result


def _propagation_servers(nameservers: Optional[list[str]]) -> Optional[Callable[[], list[NameServer]]]:
    if not nameservers:
        return None
    from ._dns_resolve import servers_from_option  # pylint: disable=import-outside-toplevel

    return lambda: servers_from_option(nameservers)


def _given(params: dict[str, Any], key: str, default: Any) -> Any:
    """``params[key]``, or ``default`` only when it is missing or None (0 stays 0)."""
    value = params.get(key)
    return default if value is None else value


def _request(params: dict[str, Any], check_mode: bool) -> CnameRequest:
    return CnameRequest(
        service_name=params["service_name"], state=params.get("state") or "present", ttl=int(_given(params, "ttl", 3600)),
        metadata=dict(params.get("metadata") or {}), on_conflict=params.get("on_conflict") or "fail",
        wait=bool(params.get("wait", True)), wait_timeout=float(_given(params, "wait_timeout", 300)), check_mode=check_mode,
    )


def _check_ttl(ttl: int) -> None:
    if not 1 <= ttl <= 2147483647:
        raise DnsError(f"ttl must be between 1 and 2147483647 seconds, not {ttl}")


def _rfc2136(params: dict[str, Any], request: CnameRequest, fqdn: str, environ: Any) -> dict[str, Any]:
    from ._azure import naming_cloud  # pylint: disable=import-outside-toplevel
    from ._dns_rfc2136 import Rfc2136Options, Rfc2136Provider  # pylint: disable=import-outside-toplevel

    if not params.get("server"):
        raise DnsError("provider=rfc2136 needs server (the primary name server that takes updates)")
    options = Rfc2136Options(server=params["server"], port=int(params.get("port") or 53), key_name=params.get("key_name"),
                             key_secret=params.get("key_secret"), key_algorithm=params.get("key_algorithm") or "hmac-sha256",
                             protocol=params.get("protocol") or "tcp")
    target = wanted_target(params.get("target"), fqdn, params.get("region"), naming_cloud(params.get("cloud_environment"), environ))
    provider = Rfc2136Provider(options, fqdn, params.get("zone"))
    return ensure_cname(provider, request, target, _propagation_servers(params.get("nameservers")))


def _azure_dns(params: dict[str, Any], request: CnameRequest, fqdn: str, environ: Any) -> dict[str, Any]:
    from ._azure import AzureSession  # pylint: disable=import-outside-toplevel
    from ._dns_azure import AzureDnsProvider  # pylint: disable=import-outside-toplevel

    with AzureSession.from_options(params, environ) as session:
        target = wanted_target(params.get("target"), fqdn, params.get("region"), session.cloud_name)
        provider = AzureDnsProvider(session, fqdn, params.get("zone"), params.get("resource_group"))
        result = ensure_cname(provider, request, target, _propagation_servers(params.get("nameservers")))
        result["auth_source_used"] = session.auth_source_used
        return result


def run_cname(params: dict[str, Any], check_mode: bool = False, environ: Any = None) -> dict[str, Any]:
    """The cmg_cname module: the module's parameters in, its result out (raises CmgError on failure)."""
    fqdn = normalize_fqdn(params["service_name"])
    request = _request(params, check_mode)
    _check_ttl(request.ttl)
    if params.get("target") and params.get("region"):
        raise DnsError("give target or region, not both: region derives the target (the deployment name)")
    if (params.get("provider") or "azure_dns") == "rfc2136":
        return _rfc2136(params, request, fqdn, environ)
    return _azure_dns(params, request, fqdn, environ)
