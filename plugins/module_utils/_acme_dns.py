# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME DNS-01 TXT records through the provider-neutral DNS core: any registered provider.

:class:`CorePublisher` is ``_acme``'s :class:`~._acme.DnsPublisher` over a ``_dns_core`` provider
(Azure DNS, RFC 2136 with TSIG or GSS-TSIG): the record set ``_acme-challenge.<name> TXT`` is made
exactly the challenge's values with :func:`~._dns_core.converge` (conditional writes: a leftover of
an interrupted run is replaced, a concurrent change is never overwritten blindly), waited for at the
zone's authoritative servers with :func:`~._dns_resolve.wait_for_txt`, and removed afterwards; the
removal takes out exactly the values this run wrote. :func:`dns_publisher` builds it from the
module's options, which are the registry's (``_dns_providers.provider_argument_spec``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional

from ._dns_core import Plan, RecordSet, check_timeout, check_ttl, converge, plan_exact, provider_class
from ._dns_resolve import NameServer, wait_for_txt
from ._errors import CmgError, DnsError

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "configmgr.cmg.cmg_cert_acme"
MAX_TTL = 86400


def _without(current: RecordSet, values: tuple[str, ...]) -> Plan:
    """The decision that removes ``values`` from the TXT set: delete it when nothing else is left."""
    rest = tuple(value for value in current.values if value not in values)
    if not rest:
        return plan_exact(current, None)
    if len(rest) == len(current.values):
        return Plan()
    return Plan("replace", RecordSet("TXT", rest, current.ttl, metadata=dict(current.metadata)))


@dataclass
class CorePublisher:
    """DNS-01 TXT records through a DNS core provider; the wait at ``servers(fqdn)`` (default: the zone's NS)."""

    provider: Any
    ttl: int = 60
    servers: Optional[Callable[[str], list[NameServer]]] = None
    wait_timeout: float = 120.0
    interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    propagation: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def _remover(self, fqdn: str, values: tuple[str, ...]) -> Callable[[], None]:
        def undo() -> None:
            converge(self.provider, fqdn, "TXT", lambda current: _without(current, values))
        return undo

    def publish(self, fqdn: str, values: list[str]) -> Callable[[], None]:
        """Make the TXT set at ``fqdn`` exactly ``values``; return the function that removes exactly them."""
        metadata = {MANAGED_BY_KEY: MANAGED_BY_VALUE} if self.provider.supports_metadata else {}
        desired = RecordSet("TXT", tuple(values), self.ttl, metadata=metadata)
        undo = self._remover(fqdn, tuple(values))
        try:
            converge(self.provider, fqdn, "TXT", lambda current: plan_exact(current, desired))
        except CmgError as exc:
            if exc.details.get("changed"):  # the write may have been applied: take it out again
                try:
                    undo()
                except CmgError as again:
                    raise DnsError(f"{exc}; and the TXT record {fqdn} may be left behind: {again}",
                                   **exc.details) from exc
            raise
        return undo

    def wait(self, fqdn: str, values: list[str]) -> None:
        """Return once every authoritative server answers exactly ``values`` at ``fqdn``; a DnsError on timeout."""
        servers = self.servers(fqdn) if self.servers else self.provider.nameservers(fqdn)
        self.propagation[fqdn] = wait_for_txt(fqdn, values, servers, self.wait_timeout, self.interval,
                                              clock=self.clock, sleep=self.sleep)


def _servers_option(nameservers: Optional[list[str]]) -> Optional[Callable[[str], list[NameServer]]]:
    """The ``nameservers`` option, its syntax checked before any traffic; None: the zone's own NS."""
    if not nameservers:
        return None
    from ._dns_resolve import servers_from_option, split_host_port  # pylint: disable=import-outside-toplevel

    for value in nameservers:
        split_host_port(value)
    return lambda _fqdn: servers_from_option(nameservers)


@contextlib.contextmanager
def dns_publisher(params: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> Iterator[CorePublisher]:
    """The publisher of the module's options (``provider`` and its options, ``ttl``, ``nameservers``,
    ``wait_timeout``, ``wait_interval``); the provider is closed on exit."""
    from ._dns_core import check_provider_params  # pylint: disable=import-outside-toplevel
    from ._dns_providers import DEFAULT_PROVIDER  # pylint: disable=import-outside-toplevel  # registers providers

    name = params.get("provider") or DEFAULT_PROVIDER
    check_provider_params(name, params)
    servers = _servers_option(params.get("nameservers"))
    ttl = check_ttl(60 if params.get("ttl") is None else params["ttl"], MAX_TTL)
    timeout = check_timeout(120 if params.get("wait_timeout") is None else params["wait_timeout"])
    interval = check_timeout(2.0 if params.get("wait_interval") is None else params["wait_interval"], "wait_interval")
    with provider_class(name).from_params(params, environ) as provider:
        yield CorePublisher(provider, ttl, servers, timeout, max(interval, 0.01), clock, sleep)
