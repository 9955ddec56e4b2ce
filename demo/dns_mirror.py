# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serve a sandbox Azure DNS zone from a real BIND, as Azure's name servers serve a zone written through ARM.

The sandbox only stores record sets; nothing answers DNS queries for them. :class:`AzureDnsMirror`
polls the sandbox state and copies the zone's CNAME record sets to a BIND ``named`` (RFC 2136 with its
TSIG key), a fraction of a second after each ARM write, so that the role's wait-for-DNS step queries a
real authoritative server and sees the record appear, as it does with Azure DNS.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from demo.sandbox import SandboxProcess
from tests.support.bind import BindServer


class AzureDnsMirror(threading.Thread):
    """A background thread that publishes the CNAME record sets of one sandbox zone on ``named``."""

    def __init__(self, sandbox: SandboxProcess, bind: BindServer, zone: str, resource_group: str,
                 interval: float = 0.3) -> None:
        super().__init__(name="azure-dns-mirror", daemon=True)
        self.sandbox, self.bind, self.zone, self.resource_group = sandbox, bind, zone, resource_group
        self.interval = interval
        self.published: dict[str, str] = {}
        self.error: Optional[str] = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Sync until stopped; the first error is kept in :attr:`error` and ends the thread."""
        while not self._stop_event.wait(self.interval):
            try:
                self.sync()
            except Exception as exc:  # pylint: disable=broad-except  # reported by the demo, not lost in a thread
                self.error = f"{type(exc).__name__}: {exc}"
                return

    def stop(self) -> None:
        """End the thread."""
        self._stop_event.set()
        self.join(5)

    def sync(self) -> None:
        """Publish the CNAMEs that changed and remove those that are gone."""
        wanted = _cnames(self.sandbox.record_sets(self.zone, self.resource_group))
        for name, (target, ttl) in wanted.items():
            if self.published.get(name) != target:
                self._update(lambda update, n=name, t=target, s=ttl: update.replace(n, s, "CNAME", t + "."))
                self.published[name] = target
        for name in [name for name in self.published if name not in wanted]:
            self._update(lambda update, n=name: update.delete(n, "CNAME"))
            del self.published[name]

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


def _cnames(record_sets: dict[str, dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """``{relative name: (target without the final dot, TTL)}`` of the CNAME record sets (REST shape)."""
    found = {}
    for record in record_sets.values():
        properties = record.get("properties", {})
        target = (properties.get("CNAMERecord") or {}).get("cname")
        if record.get("type", "").endswith("/CNAME") and target:
            found[record["name"].lower()] = (target.rstrip(".").lower(), int(properties.get("TTL") or 3600))
    return found
