"""A real MIT Kerberos KDC for the GSS-TSIG tests.

:func:`running_kdc` creates a throw-away realm (``kdb5_util create``) in a temporary directory,
adds principals with random keys and exports their keytabs (``kadmin.local``), and starts
``krb5kdc`` in the foreground as the current user on a free loopback port (UDP and TCP). It writes
a ``krb5.conf`` that names only that KDC, without DNS lookups or reverse-DNS canonicalisation, so
that processes given ``KRB5_CONFIG`` (:meth:`KdcServer.env`) talk to it alone. Debian packages:
``krb5-kdc``, ``krb5-admin-server`` (``kadmin.local``), ``krb5-user`` (``kinit``/``klist``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Iterator

from .bind import free_port
from .process import read_text, serving

KRB5KDC = shutil.which("krb5kdc") or "/usr/sbin/krb5kdc"
KDB5_UTIL = shutil.which("kdb5_util") or "/usr/sbin/kdb5_util"
KADMIN_LOCAL = shutil.which("kadmin.local") or "/usr/sbin/kadmin.local"
KINIT = shutil.which("kinit") or "/usr/bin/kinit"
KLIST = shutil.which("klist") or "/usr/bin/klist"
REALM = "CONTOSO.TEST"


@dataclass
class KdcServer:
    """A running KDC: its realm, port, configuration and the keytab of each principal."""

    realm: str
    port: int
    directory: str
    keytabs: dict[str, str]
    process: subprocess.Popen = field(repr=False)

    @property
    def krb5_config(self) -> str:
        """The krb5.conf clients and servers use (through ``KRB5_CONFIG``)."""
        return os.path.join(self.directory, "krb5.conf")

    def env(self) -> dict[str, str]:
        """Environment for a Kerberos client or server of this realm."""
        return {"KRB5_CONFIG": self.krb5_config, "KRB5_KDC_PROFILE": os.path.join(self.directory, "kdc.conf"),
                "KRB5CCNAME": f"FILE:{os.path.join(self.directory, 'default.ccache')}", "KRB5_TRACE": "/dev/null"}

    def principal(self, name: str) -> str:
        """``name@REALM``."""
        return f"{name}@{self.realm}"

    def kinit(self, name: str, ccache: str, lifetime: str | None = None) -> None:
        """Get a ticket for ``name`` from its keytab into ``ccache`` (optionally with a short ``lifetime``)."""
        command = [KINIT, "-k", "-t", self.keytabs[name], "-c", ccache]
        if lifetime:
            command += ["-l", lifetime]
        subprocess.run(command + [self.principal(name)], env={**os.environ, **self.env()}, check=True,
                       capture_output=True, timeout=30)

    def ticket_valid(self, ccache: str) -> bool:
        """``klist -s``: whether ``ccache`` holds an unexpired ticket."""
        return subprocess.run([KLIST, "-s", "-c", ccache], env={**os.environ, **self.env()}, check=False,
                              timeout=30).returncode == 0

    def log(self) -> str:
        """What the KDC logged (for assertion messages)."""
        with open(os.path.join(self.directory, "kdc.log"), encoding="utf-8", errors="replace") as handle:
            return handle.read()


def _krb5_conf(realm: str, port: int) -> str:
    return (
        "[libdefaults]\n"
        f"  default_realm = {realm}\n"
        "  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
        "  rdns = false\n  dns_canonicalize_hostname = false\n"
        "  udp_preference_limit = 1\n"  # TCP: no lost datagrams on a busy machine
        "  clockskew = 1\n"  # an expired ticket is expired at once (default: 5 minutes of grace)
        "[realms]\n"
        f"  {realm} = {{\n    kdc = 127.0.0.1:{port}\n  }}\n"
        "[domain_realm]\n"
        f"  localhost = {realm}\n  .contoso.test = {realm}\n"
    )


def _kdc_conf(realm: str, port: int, directory: str) -> str:
    return (
        "[kdcdefaults]\n"
        f"  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n"
        "[realms]\n"
        f"  {realm} = {{\n"
        f"    database_name = {directory}/principal\n"
        f"    key_stash_file = {directory}/stash\n"
        f"    acl_file = {directory}/kadm5.acl\n"
        "    max_life = 10h\n    max_renewable_life = 0\n"
        "    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
        "  }\n"
        "[logging]\n"
        f"  kdc = FILE:{directory}/kdc.log\n"
    )


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_kdc(principals: tuple[str, ...] = ("DNS/localhost", "cmg-dns", "intruder"), realm: str = REALM,
                timeout: float = 20.0) -> Iterator[KdcServer]:
    """Create a realm with ``principals`` (random keys, each exported to its own keytab), start the KDC, stop it."""
    for tool in (KRB5KDC, KDB5_UTIL, KADMIN_LOCAL):
        if not os.path.exists(tool):
            raise RuntimeError(f"{tool} is not installed: run 'make system-deps' (apt-get install krb5-kdc "
                               "krb5-admin-server krb5-user)")
    directory = tempfile.mkdtemp(prefix="cmg-kdc-")
    port = free_port()
    with open(os.path.join(directory, "krb5.conf"), "w", encoding="utf-8") as handle:
        handle.write(_krb5_conf(realm, port))
    with open(os.path.join(directory, "kdc.conf"), "w", encoding="utf-8") as handle:
        handle.write(_kdc_conf(realm, port, directory))
    with open(os.path.join(directory, "kadm5.acl"), "w", encoding="utf-8") as handle:
        handle.write("")
    env = {**os.environ, "KRB5_CONFIG": os.path.join(directory, "krb5.conf"),
           "KRB5_KDC_PROFILE": os.path.join(directory, "kdc.conf")}
    subprocess.run([KDB5_UTIL, "create", "-s", "-r", realm, "-P", os.urandom(12).hex()], env=env, check=True,
                   capture_output=True, timeout=60)
    keytabs = {}
    for name in principals:
        keytab = os.path.join(directory, name.replace("/", "_") + ".keytab")
        for query in (f"addprinc -randkey {name}", f"ktadd -k {keytab} {name}"):
            subprocess.run([KADMIN_LOCAL, "-r", realm, "-q", query], env=env, check=True, capture_output=True, timeout=60)
        keytabs[name] = keytab
    stderr = open(os.path.join(directory, "krb5kdc.stderr"), "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen([KRB5KDC, "-n", "-r", realm], env=env, stdout=stderr,  # pylint: disable=consider-using-with
                               stderr=subprocess.STDOUT, start_new_session=True)
    server = KdcServer(realm, port, directory, keytabs, process)
    with serving(process, lambda: _answers(port),
                 lambda: f"krb5kdc did not start on 127.0.0.1:{port}:\n{read_text(stderr.name)}", stderr, directory, timeout):
        yield server
