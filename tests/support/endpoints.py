"""Live CMG stand-ins for cmg_endpoint_info and the monitor role: TLS servers on loopback, names in a real BIND.

:class:`TlsServer` is a Python ``ssl`` server in a thread on 127.0.0.1 and a free port, presenting one
certificate and chain; ``versions`` limits what it speaks (``("TLSv1", "TLSv1_1")`` for an old server) and
``mode="silent"`` listens without ever answering (the kernel completes the TCP handshake, nothing more).
:func:`cmg_pki` issues the test certificates from :mod:`tests.support.pki`'s ``make_cert``: an enterprise
root and issuing CA (the ``ca_bundle``), and a root nobody trusts. :func:`add_records` writes records into
the test BIND with its TSIG key (RFC 2136), as the CMG's DNS admin would.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tests.support.bind import BindServer, running_named
from tests.support.pki import DAY, Issued, make_cert, pem, rsa_key

ZONES = ("contoso.test", "cloudapp.azure.com")
REGION = "westus"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


@dataclass
class CmgPki:
    """The test PKI: the enterprise chain clients trust (``ca_bundle``) and an untrusted root."""

    root: Issued
    issuing: Issued
    unknown_root: Issued
    ca_bundle: Path
    directory: Path

    def leaf(self, name: str, issuer: Issued | None = None, **kwargs: Any) -> Issued:
        """A server certificate for ``name`` (from the enterprise issuing CA unless ``issuer`` is given)."""
        return make_cert(name, rsa_key(2048), issuer or self.issuing, **kwargs)

    def chain_of(self, issuer: Issued) -> tuple[Any, ...]:
        """The intermediates a server sends with a leaf of ``issuer``."""
        return (self.issuing.cert,) if issuer is self.issuing else ()


def cmg_pki(directory: Path) -> CmgPki:
    """Issue the roots and write the enterprise ``ca_bundle.pem`` (root only: the servers send the intermediate)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = _now()
    since = now - 1000 * DAY  # the CAs cover every leaf's validity, expired leaves included
    root = make_cert("Endpoint Enterprise Root", rsa_key(2048, 11), ca=True, not_before=since, not_after=now + 3650 * DAY)
    issuing = make_cert("Endpoint Issuing CA", rsa_key(2048, 12), root, ca=True, not_before=since,
                        not_after=now + 1800 * DAY)
    unknown = make_cert("Endpoint Unknown Root", rsa_key(2048, 13), ca=True, not_before=since,
                        not_after=now + 3650 * DAY)
    bundle = directory / "ca_bundle.pem"
    bundle.write_bytes(pem(root.cert))
    return CmgPki(root, issuing, unknown, bundle, directory)


class TlsServer:
    """A TLS server on 127.0.0.1 that completes handshakes with one certificate chain until stopped."""

    def __init__(self, leaf: Issued | None = None, chain: tuple[Any, ...] = (), *, versions: tuple[str, ...] = (),
                 mode: str = "tls") -> None:
        self.mode = mode
        self.handshakes = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._context = self._make_context(leaf, chain, versions) if mode == "tls" else None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @staticmethod
    def _make_context(leaf: Issued | None, chain: tuple[Any, ...], versions: tuple[str, ...]) -> ssl.SSLContext:
        assert leaf is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="cmg-tls-") as tmp:
            cert_file, key_file = Path(tmp) / "chain.pem", Path(tmp) / "key.pem"
            cert_file.write_bytes(pem(leaf.cert, *chain))
            key_file.write_bytes(pem(leaf.key))
            context.load_cert_chain(cert_file, key_file)
        if versions:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
                context.minimum_version = getattr(ssl.TLSVersion, versions[0])
                context.maximum_version = getattr(ssl.TLSVersion, versions[-1])
        return context

    def start(self) -> "TlsServer":
        """Start serving (``silent`` servers never accept: connections wait in the backlog)."""
        if self.mode == "tls":
            self._thread.start()
        return self

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _peer = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(connection,), daemon=True).start()

    def _handshake(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        try:
            assert self._context is not None
            with self._context.wrap_socket(connection, server_side=True) as tls:
                self.handshakes += 1
                with contextlib.suppress(OSError):
                    tls.recv(1)
        except (OSError, ssl.SSLError):
            connection.close()

    def stop(self) -> None:
        """Stop accepting and close the listener."""
        self._stop.set()
        self._listener.close()
        if self._thread.is_alive():
            self._thread.join(2)

    def __enter__(self) -> "TlsServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port nobody listens on (bound and released: the kernel refuses connections to it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def add_records(bind: BindServer, zone: str, records: list[tuple[str, str, str]], ttl: int = 60) -> None:
    """Write ``(name, type, value)`` records (names relative to ``zone``) with an RFC 2136 update."""
    import dns.query
    import dns.rcode
    import dns.tsigkeyring
    import dns.update

    keyring = dns.tsigkeyring.from_text({bind.key_name: (bind.key_algorithm, bind.key_secret)})
    update = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm=bind.key_algorithm)
    for name, rdtype, value in records:
        update.replace(name, ttl, rdtype, value)
    response = dns.query.tcp(update, bind.host, port=bind.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


def add_cmg(bind: BindServer, prefix: str, region: str = REGION, address: str = "127.0.0.1",
            target: str | None = None) -> str:
    """``<prefix>.contoso.test CNAME <prefix>.<region>.cloudapp.azure.com`` (or ``target``) and its A record."""
    deployment = f"{prefix.lower()}.{region}.cloudapp.azure.com"
    add_records(bind, "cloudapp.azure.com", [(f"{prefix.lower()}.{region}", "A", address)])
    add_records(bind, "contoso.test", [(prefix, "CNAME", (target or deployment) + ".")])
    return f"{prefix}.contoso.test"


@contextlib.contextmanager
def cmg_bind() -> Iterator[BindServer]:
    """A BIND authoritative for contoso.test (service names) and cloudapp.azure.com (deployment names)."""
    with running_named(ZONES) as server:
        yield server
