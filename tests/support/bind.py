"""A real BIND 9 ``named`` for the RFC 2136 and propagation tests.

:func:`running_named` starts ``named`` (Debian package ``bind9``; ``make system-deps`` installs it)
as the current user on 127.0.0.1 on a free TCP+UDP port, in a temporary directory, authoritative
for dynamic test zones (SOA, NS ``ns1.<zone>`` -> 127.0.0.1, updates allowed with one TSIG key,
hmac-sha256), recursion off, no rndc. It waits until the first zone answers SOA and stops the
server on exit. :func:`bind_server` is the session fixture body: tests/conftest.py (or a test
module) turns it into a fixture with ``pytest.fixture(scope="session")(bind_server)``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Iterator

from .process import read_text, serving

NAMED = shutil.which("named") or "/usr/sbin/named"
KEY_NAME = "cmg-test-key"
KEY_ALGORITHM = "hmac-sha256"
DEFAULT_ZONES = ("contoso.test",)


@dataclass
class BindServer:
    """A running ``named``: where it listens, its TSIG key and its zones."""

    host: str
    port: int
    key_name: str
    key_secret: str
    zones: tuple[str, ...]
    directory: str
    process: subprocess.Popen = field(repr=False)
    key_algorithm: str = KEY_ALGORITHM

    @property
    def address(self) -> str:
        """``host:port``, the form the ``nameservers`` option takes."""
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        """What ``named`` wrote so far (for assertion messages)."""
        path = os.path.join(self.directory, "named.log")
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free for both TCP and UDP on ``host`` right now."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free TCP+UDP port found")


def _zone_file(zone: str, host: str) -> str:
    return (
        "$TTL 300\n"
        f"@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n"
        f"@ IN NS ns1.{zone}.\n"
        f"ns1 IN A {host}\n"
    )


def _config(directory: str, host: str, port: int, secret: str, zones: tuple[str, ...],
            tkey_keytab: str | None = None, kerberos_grants: tuple[str, ...] = ()) -> str:
    if kerberos_grants:  # update-policy replaces allow-update: the TSIG key and each Kerberos principal may update
        grants = "".join(f" grant {principal} zonesub ANY;" for principal in kerberos_grants)
        policy = f'update-policy {{ grant {KEY_NAME} zonesub ANY;{grants} }};'
    else:
        policy = f'allow-update {{ key "{KEY_NAME}"; }};'
    zone_blocks = "".join(
        f'zone "{zone}" {{ type primary; file "{os.path.join(directory, zone + ".db")}"; {policy} }};\n'
        for zone in zones
    )
    gss = f'  tkey-gssapi-keytab "{tkey_keytab}";\n' if tkey_keytab else ""
    return (
        "options {\n"
        f'  directory "{directory}";\n'
        f'  pid-file "{os.path.join(directory, "named.pid")}";\n'
        f'  session-keyfile "{os.path.join(directory, "session.key")}";\n'
        f'  managed-keys-directory "{directory}";\n'
        f"  listen-on port {port} {{ {host}; }};\n"
        "  listen-on-v6 { none; };\n"
        "  recursion no;\n"
        "  allow-query { any; };\n"
        "  dnssec-validation no;\n"
        "  notify no;\n"
        + gss +
        "};\n"
        "controls { };\n"
        f'key "{KEY_NAME}" {{ algorithm {KEY_ALGORITHM}; secret "{secret}"; }};\n'
        "logging { channel main { file \"" + os.path.join(directory, "named.log") + "\"; severity info; "
        "print-time yes; }; category default { main; }; };\n"
        + zone_blocks
    )


def _answers_soa(host: str, port: int, zone: str) -> bool:
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode

    query = dns.message.make_query(zone, "SOA")
    try:
        response = dns.query.udp(query, host, port=port, timeout=0.2)
    except (OSError, dns.exception.Timeout):
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.answer)


@contextlib.contextmanager
def running_named(zones: tuple[str, ...] = DEFAULT_ZONES, host: str = "127.0.0.1",
                  timeout: float = 10.0, tkey_keytab: str | None = None, kerberos_grants: tuple[str, ...] = (),
                  env: dict[str, str] | None = None) -> Iterator[BindServer]:
    """Start ``named`` for ``zones``, wait until it answers SOA, yield it, stop it.

    ``tkey_keytab`` turns on GSS-TSIG (``tkey-gssapi-keytab``: the keytab of ``DNS/<host>``);
    ``kerberos_grants`` are the principals (``name@REALM``) the zones' ``update-policy`` lets update;
    ``env`` adds environment variables (``KRB5_CONFIG`` of a test realm).
    """
    if not os.path.exists(NAMED):
        raise RuntimeError("BIND 9 'named' is not installed: run 'make system-deps' (apt-get install bind9 bind9-utils)")
    directory = tempfile.mkdtemp(prefix="cmg-bind-")
    secret = base64.b64encode(os.urandom(32)).decode()
    port = free_port(host)
    for zone in zones:
        with open(os.path.join(directory, zone + ".db"), "w", encoding="utf-8") as handle:
            handle.write(_zone_file(zone, host))
    config = os.path.join(directory, "named.conf")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(_config(directory, host, port, secret, zones, tkey_keytab, kerberos_grants))
    with open(os.path.join(directory, "named.log"), "w", encoding="utf-8"):
        pass
    stderr = open(os.path.join(directory, "named.stderr"), "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [NAMED, "-f", "-4", "-n", "1", "-c", config], stdout=stderr, stderr=subprocess.STDOUT,
        start_new_session=True, env={**os.environ, **(env or {})},
    )
    server = BindServer(host, port, KEY_NAME, secret, tuple(zones), directory, process)
    with serving(process, lambda: _answers_soa(host, port, zones[0]),
                 lambda: f"named did not start on {host}:{port}:\n{read_text(stderr.name)}\n{server.log()}",
                 stderr, directory, timeout):
        yield server


def bind_server() -> Iterator[BindServer]:
    """Body of the session-scoped ``bind_server`` fixture: one ``named`` for contoso.test and fabrikam.test."""
    with running_named(("contoso.test", "fabrikam.test")) as server:
        yield server


def _resolver_config(directory: str, host: str, port: int, upstream: tuple[str, int]) -> str:
    return (
        "options {\n"
        f'  directory "{directory}";\n'
        f'  pid-file "{os.path.join(directory, "named.pid")}";\n'
        f'  session-keyfile "{os.path.join(directory, "session.key")}";\n'
        f'  managed-keys-directory "{directory}";\n'
        f"  listen-on port {port} {{ {host}; }};\n"
        "  listen-on-v6 { none; };\n"
        "  recursion yes;\n  allow-query { any; };\n  allow-recursion { any; };\n"
        f"  forwarders {{ {upstream[0]} port {upstream[1]}; }};\n  forward only;\n"
        "  dnssec-validation no;\n  notify no;\n"
        "};\n"
        "controls { };\n"
        "logging { channel main { file \"" + os.path.join(directory, "named.log") + "\"; severity info; "
        "print-time yes; }; category default { main; }; };\n"
    )


@contextlib.contextmanager
def running_resolver(upstream: BindServer, host: str = "127.0.0.1", timeout: float = 10.0) -> Iterator[BindServer]:
    """A caching recursive resolver (BIND with ``forward only`` to ``upstream``) on a free loopback port.

    It caches answers, negative ones included (RFC 2308: for the zone's SOA minimum), as a public
    resolver would; nothing leaves the machine.
    """
    directory = tempfile.mkdtemp(prefix="cmg-resolver-")
    port = free_port(host)
    config = os.path.join(directory, "named.conf")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(_resolver_config(directory, host, port, (upstream.host, upstream.port)))
    with open(os.path.join(directory, "named.log"), "w", encoding="utf-8"):
        pass
    stderr = open(os.path.join(directory, "named.stderr"), "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [NAMED, "-f", "-4", "-n", "1", "-c", config], stdout=stderr, stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = BindServer(host, port, "", "", (), directory, process)
    with serving(process, lambda: _answers_soa(host, port, upstream.zones[0]),
                 lambda: f"the resolver did not start on {host}:{port}:\n{read_text(stderr.name)}\n{server.log()}",
                 stderr, directory, timeout):
        yield server
