# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serve a sandbox Azure DNS zone from a real BIND, as Azure's name servers serve a zone written through ARM.

The sandbox only stores record sets; nothing answers DNS queries for them. :class:`AzureDnsMirror`
polls the sandbox state and copies the zone's CNAME and TXT record sets to a BIND ``named`` (RFC 2136
with its TSIG key), a fraction of a second after each ARM write, so that a wait-for-DNS step queries
a real authoritative server and sees the record appear (and go), as it does with Azure DNS, and an
ACME CA (Pebble, resolving at that BIND) can validate a DNS-01 TXT record written through ARM.

The source is anything with ``record_sets(zone, resource_group)`` in the REST shape: the demo's
``SandboxProcess``, or :class:`SandboxState` for the in-process sandbox of the tests.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.request
from typing import Any, Optional, Protocol

from tests.support.bind import BindServer

#: The record types mirrored: REST property holding the records -> how one record becomes zone-file data.
MIRRORED = {
    "CNAME": lambda properties: [(properties.get("CNAMERecord") or {}).get("cname", "").rstrip(".") + "."]
    if (properties.get("CNAMERecord") or {}).get("cname") else [],
    "TXT": lambda properties: [" ".join(json.dumps(part) for part in record.get("value") or [""])
                               for record in properties.get("TXTRecords") or []],
}


class RecordSource(Protocol):  # pylint: disable=too-few-public-methods
    """Where the mirror reads the zone's record sets."""

    def record_sets(self, zone: str, resource_group: str) -> dict[str, dict[str, Any]]:
        """The record sets by ``name/TYPE`` (REST shape)."""


class SandboxState:  # pylint: disable=too-few-public-methods
    """The record sets of an in-process :class:`~tests.support.azure_sandbox.AzureSandbox`, read over its
    control endpoint (``GET /_sandbox/state``), so the mirror thread never touches the sandbox's dicts."""

    def __init__(self, url: str, ca_file: str) -> None:
        self.url, self.ca_file = url, ca_file

    def record_sets(self, zone: str, resource_group: str) -> dict[str, dict[str, Any]]:
        """The record sets of the zone, empty when there is no such zone."""
        context = ssl.create_default_context(cafile=self.ca_file)
        with urllib.request.urlopen(self.url + "/_sandbox/state", context=context, timeout=10) as response:  # nosec B310
            state = json.loads(response.read().decode("utf-8"))
        zones = state.get("dns", {}).get("zones", {})
        return dict(zones.get(f"{resource_group.lower()}/{zone.lower()}", {}).get("records", {}))


class AzureDnsMirror(threading.Thread):
    """A background thread that publishes the CNAME and TXT record sets of one sandbox zone on ``named``."""

    def __init__(self, source: RecordSource, bind: BindServer, zone: str, resource_group: str,
                 interval: float = 0.3) -> None:
        super().__init__(name="azure-dns-mirror", daemon=True)
        self.source, self.bind, self.zone, self.resource_group = source, bind, zone, resource_group
        self.interval = interval
        self.published: dict[tuple[str, str], tuple[tuple[str, ...], int]] = {}
        self.error: Optional[str] = None
        self._stop_event = threading.Event()

    def __enter__(self) -> "AzureDnsMirror":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run(self) -> None:
        """Sync until stopped; the first error is kept in :attr:`error` and ends the thread."""
        while not self._stop_event.wait(self.interval):
            try:
                self.sync()
            except Exception as exc:  # pylint: disable=broad-except  # reported by the caller, not lost in a thread
                self.error = f"{type(exc).__name__}: {exc}"
                return

    def stop(self) -> None:
        """End the thread."""
        self._stop_event.set()
        self.join(5)

    def sync(self) -> None:
        """Publish the record sets that changed and remove those that are gone."""
        wanted = _mirrored(self.source.record_sets(self.zone, self.resource_group))
        for (name, rtype), (values, ttl) in wanted.items():
            if self.published.get((name, rtype)) != (values, ttl):
                self._update(lambda update, n=name, r=rtype, v=values, t=ttl: update.replace(n, t, r, *v))
                self.published[(name, rtype)] = (values, ttl)
        for name, rtype in [key for key in self.published if key not in wanted]:
            self._update(lambda update, n=name, r=rtype: update.delete(n, r))
            del self.published[(name, rtype)]

    def _update(self, change: Any) -> None:
        import dns.query
        import dns.rcode
        import dns.tsigkeyring
        import dns.update

        keyring = dns.tsigkeyring.from_text({self.bind.key_name: self.bind.key_secret})
        update = dns.update.UpdateMessage(self.zone, keyring=keyring, keyalgorithm=self.bind.key_algorithm)
        change(update)
        response = dns.query.tcp(update, self.bind.host, port=self.bind.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"named refused the update: {dns.rcode.to_text(response.rcode())}")


def _mirrored(record_sets: dict[str, dict[str, Any]]) -> dict[tuple[str, str], tuple[tuple[str, ...], int]]:
    """``{(relative name, type): (zone-file values, TTL)}`` of the mirrored record sets (REST shape)."""
    found = {}
    for record in record_sets.values():
        rtype = record.get("type", "").rsplit("/", 1)[-1].upper()
        properties = record.get("properties", {})
        values = tuple(sorted(MIRRORED[rtype](properties))) if rtype in MIRRORED else ()
        if values:
            found[(record["name"].lower(), rtype)] = (values, int(properties.get("TTL") or 3600))
    return found
