"""Pebble, the ACME test server of the Let's Encrypt project, for the ACME tests.

:func:`running_pebble` starts ``/usr/bin/pebble`` (Debian package ``pebble``; ``make system-deps``
installs it) on free loopback ports with a TLS certificate from a throw-away ``trustme`` CA, its
DNS-01 lookups sent to ``dns_server`` (the test BIND), optional External Account Binding, and
Pebble's random rejection of good nonces left on (``nonce_reject`` percent; Pebble's default is 5).
Validation happens at once (``PEBBLE_VA_NOSLEEP``) and authorizations are never reused
(``PEBBLE_AUTHZREUSE=0``), so every order really goes through DNS-01.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass, field
from typing import Iterator

import trustme

from tests.support.bind import free_port
from tests.support.process import serving

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
EAB_KID = "kid-cmg-test"
EAB_HMAC_KEY = base64.urlsafe_b64encode(b"cmg-test-eab-hmac-key-32-bytes!!").decode().rstrip("=")
VALIDITY_SECONDS = 90 * 24 * 3600


@dataclass
class PebbleServer:
    """A running Pebble: its directory, its TLS trust anchor, its roots."""

    directory_url: str
    management_url: str
    ca_path: str
    directory: str
    eab_required: bool
    process: subprocess.Popen = field(repr=False)

    def _get(self, path: str) -> bytes:
        context = ssl.create_default_context(cafile=self.ca_path)
        with urllib.request.urlopen(self.management_url + path, context=context, timeout=5) as response:
            return response.read(1024 * 1024)

    def root_pem(self) -> str:
        """The root of Pebble's issuance chain (fresh for every start)."""
        return self._get("/roots/0").decode()

    def log(self) -> str:
        """What Pebble wrote so far."""
        with open(os.path.join(self.directory, "pebble.log"), encoding="utf-8", errors="replace") as handle:
            return handle.read()


def _ready(url: str, ca_path: str) -> bool:
    context = ssl.create_default_context(cafile=ca_path)
    try:
        with urllib.request.urlopen(url, context=context, timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_pebble(dns_server: str, *, eab_required: bool = False, nonce_reject: int = 5,
                   timeout: float = 15.0) -> Iterator[PebbleServer]:
    """Start Pebble resolving through ``dns_server`` (``host:port``), yield it, stop it."""
    if not os.path.exists(PEBBLE):
        raise RuntimeError("Pebble is not installed: run 'make system-deps' (apt-get install pebble)")
    directory = tempfile.mkdtemp(prefix="cmg-pebble-")
    authority = trustme.CA()
    served = authority.issue_cert("127.0.0.1", "localhost")
    served.private_key_pem.write_to_path(os.path.join(directory, "key.pem"))
    served.cert_chain_pems[0].write_to_path(os.path.join(directory, "cert.pem"))
    ca_path = os.path.join(directory, "tls-ca.pem")
    authority.cert_pem.write_to_path(ca_path)
    port, management = free_port(), free_port()
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{management}",
        "certificate": os.path.join(directory, "cert.pem"), "privateKey": os.path.join(directory, "key.pem"),
        "httpPort": free_port(), "tlsPort": free_port(), "ocspResponderURL": "",
        "certificateValidityPeriod": VALIDITY_SECONDS,
        "externalAccountBindingRequired": eab_required,
        "externalAccountMACKeys": {EAB_KID: EAB_HMAC_KEY} if eab_required else {},
    }}
    config_path = os.path.join(directory, "pebble.json")
    with open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0",
           "PEBBLE_WFE_NONCEREJECT": str(nonce_reject)}
    log = open(os.path.join(directory, "pebble.log"), "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [PEBBLE, "-config", config_path, "-dnsserver", dns_server], stdout=log, stderr=subprocess.STDOUT, env=env,
        cwd=directory, start_new_session=True)
    server = PebbleServer(f"https://127.0.0.1:{port}/dir", f"https://127.0.0.1:{management}", ca_path, directory,
                          eab_required, process)
    with serving(process, lambda: _ready(server.directory_url, ca_path),
                 lambda: f"pebble did not start on 127.0.0.1:{port}:\n{server.log()}", log, directory, timeout, poll=0.05):
        yield server
