# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider-neutral DNS core: the record model, the provider protocol, the provider registry,
and one conditional write loop.

Shaped like community.dns (a record model in ``record.py``, an abstract zone/record API in
``zone_record_api.py``, per-provider information): each provider is one file that depends on this
module and registers its class here with :func:`register`; this module never imports a provider.
``_dns_providers`` imports every provider file once (the registry entry a new provider adds).

The API a caller uses (``_cname`` for the CNAME; an ACME DNS-01 step for ``_acme-challenge`` TXT):

- ``provider = provider_class(name).from_params(params, environ)``: no network work; a context
  manager (``close()`` releases sessions).
- ``provider.read(fqdn, rtype, others=False) -> RecordSet``: the record set of that type at the name
  (``exists`` False when there is none); with ``others`` the other types at the name too.
- :func:`converge` ``(provider, fqdn, rtype, decide, check_mode)``: read, let ``decide(current)``
  return a :class:`Plan` (``create``/``replace``/``delete`` or nothing), write conditionally, read
  again and decide once more when the write lost a race; returns an :class:`Outcome` whose
  ``changed`` is true whenever a write was sent that may have been applied.
  :func:`plan_exact` is the decision "this exact record set, or none" (TXT challenges).
- ``provider.nameservers(fqdn)``: the zone's authoritative servers for the propagation wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Mapping, Optional, Protocol

from ._dns_names import check_dns_name, normalize_name
from ._errors import CmgError, DnsError


#: Record types a provider may be asked about (SOA only at the apex, where nothing is written).
RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT")
#: HMAC TSIG algorithms (RFC 8945) and GSS-TSIG (RFC 3645, Kerberos: Windows secure dynamic updates).
HMAC_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")
GSS_TSIG = "gss-tsig"
KEY_ALGORITHMS = HMAC_ALGORITHMS + (GSS_TSIG,)
PROTOCOLS = ("tcp", "udp")
ACTIONS = ("create", "replace", "delete")
MAX_PORT = 65535


class RaceError(DnsError):
    """A conditional write failed because the record set changed after it was read."""


def refused(exc: CmgError) -> CmgError:
    """Mark ``exc`` as a definite refusal of a write (the server did not apply it: 4xx, REFUSED, NOTAUTH...).

    Any other error after a write was sent (a reset, a timeout, an answer that cannot be read) means
    the write may have been applied, and :func:`converge` reports ``changed``.
    """
    exc.refused = True  # type: ignore[attr-defined]
    return exc


def check_port(value: Any, what: str = "port") -> int:
    """A TCP/UDP port 1-65535 (0 and out-of-range values are refused, never replaced by a default)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise DnsError(f"{what} must be a port number from 1 to {MAX_PORT}, not {str(value)[:40]!r}") from None
    if not 1 <= value <= MAX_PORT:
        raise DnsError(f"{what} must be a port number from 1 to {MAX_PORT}, not {value}")
    return value


def check_timeout(value: Any, what: str = "wait_timeout") -> float:
    """A number of seconds >= 0 (a negative wait is refused)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DnsError(f"{what} must be a number of seconds, not {str(value)[:40]!r}") from None
    if math.isnan(seconds) or seconds < 0 or seconds > 86400:  # NaN, negative, or more than a day
        raise DnsError(f"{what} must be between 0 and 86400 seconds, not {value}")
    return seconds


def check_ttl(value: Any, maximum: int) -> int:
    """A record TTL in whole seconds from 1 to ``maximum``."""
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        raise DnsError(f"ttl must be a number of seconds, not {str(value)[:40]!r}") from None
    if not 1 <= ttl <= maximum:
        raise DnsError(f"ttl must be between 1 and {maximum} seconds, not {ttl}")
    return ttl


@dataclass
class RecordSet:
    """One record set at a name, provider-neutral.

    ``values`` in presentation form without quoting: a CNAME target or NS name lower case without
    the trailing dot, a TXT value as its text (several strings of one record joined). ``etag`` is
    the provider's version (Azure DNS) or None. ``exists`` is false when the name has no such set;
    an Azure record set without records exists (it has an etag). ``others`` lists the other record
    types at the name when the read asked for them.
    """

    rtype: str
    values: tuple[str, ...] = ()
    ttl: Optional[int] = None
    etag: Optional[str] = None
    metadata: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        """Whether the name has this record set (possibly empty, with an etag)."""
        return bool(self.values) or self.etag is not None

    @property
    def value(self) -> Optional[str]:
        """The single value (a CNAME target), or None."""
        return self.values[0] if self.values else None

    def same_records(self, other: "RecordSet") -> bool:
        """Same type, same values (as a set, names case-insensitively) and TTL."""
        return (self.rtype == other.rtype and self.ttl == other.ttl
                and sorted(_comparable(self.rtype, v) for v in self.values)
                == sorted(_comparable(other.rtype, v) for v in other.values))


def _comparable(rtype: str, value: str) -> str:
    return value if rtype == "TXT" else (normalize_name(value) or "")


def rdata_text(rtype: str, value: str) -> str:
    """A value in zone-file form: names absolute with a trailing dot, TXT quoted and escaped."""
    if rtype in ("CNAME", "NS", "PTR"):
        return normalize_name(value) + "."
    if rtype == "TXT":
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return " ".join(f'"{escaped[i:i + 255]}"' for i in range(0, max(len(escaped), 1), 255))
    return value


@dataclass(frozen=True)
class Plan:
    """One decision: ``action`` (``create``, ``replace``, ``delete``, or None for nothing) and the set to write."""

    action: Optional[str] = None
    desired: Optional[RecordSet] = None


@dataclass
class Outcome:
    """What :func:`converge` did: the set before and after, the action, and whether a write may have been applied.

    ``before`` is the first read. ``after`` is what the name holds now (in check mode: would hold).
    ``write_sent``: a write left this host. ``changed`` is true when the final action was applied, and
    also when a write whose answer was lost or refused on retry may have been applied.
    """

    before: RecordSet
    after: RecordSet
    action: Optional[str]
    write_sent: bool = False
    maybe_applied: bool = False

    @property
    def changed(self) -> bool:
        """Whether the run changed (or, in check mode, would change) the record set."""
        return self.action is not None or self.maybe_applied


@dataclass(frozen=True)
class ProviderSpec:
    """A provider's options: argument spec entries, those it requires, and ``required_by`` pairs."""

    options: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...] = ()
    required_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Provider(Protocol):
    """Where a zone lives. Constructors do no network work; reads and writes find the zone lazily.

    With ``conditional_writes`` every write applies only if the record set is still what was read
    and raises :class:`RaceError` otherwise (Azure DNS etags, RFC 2136 prerequisites).
    """

    name: ClassVar[str]
    spec: ClassVar[ProviderSpec]
    conditional_writes: ClassVar[bool]
    supports_metadata: ClassVar[bool]

    @classmethod
    def from_params(cls, params: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> "Provider":
        """The provider from the module's options (no network work)."""

    def __enter__(self) -> "Provider":
        """Context manager: :meth:`close` on exit."""

    def __exit__(self, *exc_info: object) -> None:
        """Close."""

    def zone_for(self, fqdn: str) -> str:
        """The zone that holds ``fqdn`` (given, or found); cached."""

    def read(self, fqdn: str, rtype: str, others: bool = False) -> RecordSet:
        """The ``rtype`` record set at ``fqdn``; ``others``: also the other types at the name."""

    def create(self, fqdn: str, desired: RecordSet) -> RecordSet:
        """Create the record set; only if the name holds no such set (for a CNAME: nothing at all)."""

    def replace(self, fqdn: str, current: RecordSet, desired: RecordSet) -> RecordSet:
        """Overwrite the record set; only if it still is ``current``."""

    def delete(self, fqdn: str, current: RecordSet) -> None:
        """Delete the record set; only if it still is ``current``."""

    def nameservers(self, fqdn: str) -> list[Any]:
        """The authoritative name servers of the zone of ``fqdn`` (``_dns_resolve.NameServer``)."""

    def result_extras(self) -> dict[str, Any]:
        """Provider facts for the module result (``auth_source_used``...)."""


#: provider name -> provider class; filled by each provider file's :func:`register`.
REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator of a provider file: put the class in :data:`REGISTRY` under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls


def provider_class(name: str) -> type:
    """The registered provider class called ``name``; an unknown name is one line listing the known ones.

    Providers register when imported: callers import ``_dns_providers`` first (this module cannot).
    """
    if not REGISTRY:
        raise RuntimeError("no DNS provider is registered: import _dns_providers before provider_class()")
    try:
        return REGISTRY[name]
    except KeyError:
        raise DnsError(f"provider must be one of {', '.join(sorted(REGISTRY))}, not {name!r}") from None


def provider_options() -> dict[str, dict[str, Any]]:
    """Every registered provider's options merged (an option shared by two providers must be the same)."""
    merged: dict[str, dict[str, Any]] = {}
    for name in sorted(REGISTRY):
        for option, entry in REGISTRY[name].spec.options.items():
            if option in merged and merged[option] != dict(entry):
                raise ValueError(f"provider {name} redefines option {option}")
            merged[option] = dict(entry)
    return merged


def provider_required_if(option: str = "provider") -> list[tuple[str, str, tuple[str, ...]]]:
    """``required_if`` entries: each provider's required options when ``option`` names it."""
    return [(option, name, tuple(REGISTRY[name].spec.required)) for name in sorted(REGISTRY) if REGISTRY[name].spec.required]


def provider_required_by() -> dict[str, tuple[str, ...]]:
    """``required_by`` of every provider (an option that needs others)."""
    merged: dict[str, tuple[str, ...]] = {}
    for name in sorted(REGISTRY):
        merged.update({key: tuple(value) for key, value in REGISTRY[name].spec.required_by.items()})
    return merged


def check_provider_params(name: str, params: Mapping[str, Any]) -> None:
    """The same rules outside Ansible's argument spec (the role's list of records, direct calls)."""
    spec = provider_class(name).spec
    missing = [option for option in spec.required if params.get(option) in (None, "")]
    if missing:
        raise DnsError(f"provider={name} needs {', '.join(missing)}")
    for option, needs in spec.required_by.items():
        lacking = [need for need in needs if params.get(option) not in (None, "") and params.get(need) in (None, "")]
        if lacking:
            raise DnsError(f"{option} needs {', '.join(lacking)} (provider={name})")


def plan_exact(current: RecordSet, desired: Optional[RecordSet]) -> Plan:
    """Decide for "exactly this record set" (``desired``) or "no such set" (None): create, replace, delete or nothing."""
    if desired is None:
        return Plan("delete") if current.exists else Plan()
    if not current.exists:
        return Plan("create", desired)
    if current.same_records(desired) and all(current.metadata.get(k) == v for k, v in desired.metadata.items()):
        return Plan()
    return Plan("replace", desired)


def _apply(provider: Any, fqdn: str, plan: Plan, current: RecordSet) -> RecordSet:
    if plan.action == "create":
        return provider.create(fqdn, plan.desired)
    if plan.action == "replace":
        return provider.replace(fqdn, current, plan.desired)
    provider.delete(fqdn, current)
    return RecordSet(current.rtype)


def _planned_after(plan: Plan, current: RecordSet) -> RecordSet:
    if plan.action is None:
        return current
    if plan.action == "delete":
        return RecordSet(current.rtype)
    return replace(plan.desired, etag=current.etag, others=[])


def _landed(plan: Plan, state: RecordSet) -> bool:
    """Whether ``state`` (read after a lost race) is what ``plan``'s write asked for."""
    if plan.action == "delete":
        return not state.exists
    return state.exists and plan.desired is not None and state.same_records(plan.desired)


def converge(provider: Any, fqdn: str, rtype: str, decide: Callable[[RecordSet], Plan], check_mode: bool = False,
             others: bool = False) -> Outcome:
    """Read, decide, write conditionally; on a lost race read and decide once more; a second lost race fails.

    A write that fails in any other way after it was sent (a reset connection, a timeout, an answer
    that cannot be read) may have been applied: the error carries ``changed: True``. A write that was
    retried after its answer was lost can meet its own effect (412 / failed prerequisite): when the
    record set read again is what that write asked for, the outcome is ``changed`` too.
    """
    current = provider.read(fqdn, rtype, others=others)
    before = current
    plan = decide(current)
    if plan.action is None or check_mode:
        return Outcome(before, _planned_after(plan, current), plan.action)
    for attempt in (1, 2):
        try:
            after = _apply(provider, fqdn, plan, current)
        except RaceError as exc:
            race = exc
        except CmgError as exc:
            if not getattr(exc, "refused", False):
                exc.details.setdefault("changed", True)  # sent: it may have been applied
            raise
        else:
            return Outcome(before, after, plan.action, write_sent=True)
        sent = plan
        try:
            current = provider.read(fqdn, rtype, others=others)
        except CmgError as exc:
            exc.details.setdefault("changed", True)  # the refused write may be a retry of an applied one
            raise
        plan = decide(current)
        if plan.action is None:
            return Outcome(before, current, None, write_sent=True, maybe_applied=_landed(sent, current))
        if attempt == 2:
            raise DnsError(f"{fqdn} was changed by someone else twice while this task updated it; nothing "
                           f"was overwritten, run the task again ({race})", changed=False) from race
    raise AssertionError("unreachable")  # pragma: no cover


def others_error(fqdn: str, others: list[str]) -> DnsError:
    """A CNAME cannot coexist with other records at its name: one line naming them."""
    named = ", ".join(sorted(others)) or "another record set"
    return DnsError(f"{fqdn} already has {named} record(s): a CNAME cannot coexist with other "
                    "records and this module never deletes them; remove them or choose another name",
                    other_records=sorted(others))


def relative_name(fqdn: str, zone: str) -> str:
    """The name of ``fqdn`` relative to ``zone`` (``@`` at the apex); underscores allowed (``_acme-challenge``)."""
    name, origin = check_dns_name(fqdn, "record name"), check_dns_name(zone, "zone")
    if name == origin:
        return "@"
    if not name.endswith("." + origin):
        raise DnsError(f"the DNS zone {origin} does not contain {name}")
    return name[: -len(origin) - 1]
