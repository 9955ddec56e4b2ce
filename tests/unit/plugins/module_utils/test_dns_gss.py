# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GSS-TSIG against a real MIT Kerberos KDC and a real BIND 9 with ``tkey-gssapi-keytab``.

The realm CONTOSO.TEST has ``DNS/localhost`` (BIND's keytab), ``cmg-dns`` (allowed to update the
zone by its update-policy) and ``intruder`` (a valid principal the zone does not trust). Both
servers are started here on free loopback ports; ``KRB5_CONFIG`` points this process at the KDC.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Iterator

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._cname import run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer, answered_target
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import DnsError, MissingDependencyError
from tests.support.bind import BindServer, running_named
from tests.support.kdc import KdcServer, running_kdc

pytestmark = pytest.mark.bind
TARGET = "granitefalls.westus.cloudapp.azure.com"


@pytest.fixture(scope="module")
def kdc() -> Iterator[KdcServer]:
    # Skipped, with the reason shown, only where the packages cannot be installed; CI installs them (make
    # system-deps), so there a missing one is a failure, never a silent skip.
    missing = None
    try:
        import gssapi  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        missing = "the gssapi package is not installed (pip needs libkrb5-dev to build it)"
    if not missing and not shutil.which("krb5kdc") and not os.path.exists("/usr/sbin/krb5kdc"):
        missing = "MIT Kerberos (krb5-kdc, krb5-admin-server) is not installed"
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing}: CI must test GSS-TSIG (make system-deps installs it)")
    if missing:
        pytest.skip(f"{missing}: GSS-TSIG is untested here")
    with running_kdc() as server:
        saved = {key: os.environ.get(key) for key in server.env()}
        os.environ.update(server.env())
        try:
            yield server
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="module")
def bind(kdc: KdcServer) -> Iterator[BindServer]:
    with running_named(("contoso.test",), tkey_keytab=kdc.keytabs["DNS/localhost"],
                       kerberos_grants=(kdc.principal("cmg-dns"),), env=kdc.env()) as server:
        yield server


def _params(bind: BindServer, kdc: KdcServer, name: str, **changes: object) -> dict:
    params = {"service_name": name, "target": TARGET, "provider": "rfc2136", "server": "localhost", "port": bind.port,
              "key_algorithm": "gss-tsig", "keytab": kdc.keytabs["cmg-dns"], "principal": kdc.principal("cmg-dns"),
              "wait": False}
    params.update(changes)
    return params


def _answer(bind: BindServer, name: str) -> str:
    return answered_target(NameServer(bind.host, bind.host, bind.port), name, 2)


def test_gss_tsig_creates_leaves_alone_and_deletes(bind: BindServer, kdc: KdcServer) -> None:
    name = "granitefalls.contoso.test"
    created = run_cname(_params(bind, kdc, name))
    assert (created["changed"], created["record"]["target"]) == (True, TARGET)
    assert _answer(bind, name) == TARGET

    again = run_cname(_params(bind, kdc, name))
    assert again["changed"] is False

    removed = run_cname(_params(bind, kdc, name, state="absent"))
    assert removed["changed"] is True
    assert _answer(bind, name) == "NXDOMAIN"


def test_gss_tsig_from_the_credential_cache(bind: BindServer, kdc: KdcServer, tmp_path: "os.PathLike[str]",
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ccache = f"FILE:{tmp_path}/cc"
    kdc.kinit("cmg-dns", ccache)
    monkeypatch.setenv("KRB5CCNAME", ccache)
    result = run_cname(_params(bind, kdc, "cache.contoso.test", keytab=None, principal=None))
    assert result["changed"] is True
    assert _answer(bind, "cache.contoso.test") == TARGET


def test_principal_the_zone_does_not_trust_is_refused_in_one_line(bind: BindServer, kdc: KdcServer) -> None:
    with pytest.raises(DnsError) as caught:
        run_cname(_params(bind, kdc, "intruder.contoso.test", keytab=kdc.keytabs["intruder"],
                          principal=kdc.principal("intruder")))
    message = str(caught.value)
    assert message.startswith(f"the DNS server localhost:{bind.port} refused to create intruder.contoso.test with "
                              "GSS-TSIG as intruder@CONTOSO.TEST (REFUSED)"), message
    assert "\n" not in message
    assert caught.value.details.get("changed") is None  # a refusal: nothing was applied
    assert _answer(bind, "intruder.contoso.test") == "NXDOMAIN"


def test_principal_not_in_the_keytab_is_one_line(bind: BindServer, kdc: KdcServer) -> None:
    with pytest.raises(DnsError) as caught:
        run_cname(_params(bind, kdc, "wrong.contoso.test", principal=kdc.principal("nobody")))
    message = str(caught.value)
    assert message.startswith("GSS-TSIG: no Kerberos ticket for nobody@CONTOSO.TEST to DNS/localhost from keytab "), message
    assert "check principal and keytab" in message and "\n" not in message


def test_expired_ticket_is_one_line(bind: BindServer, kdc: KdcServer, tmp_path: "os.PathLike[str]",
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ccache = f"FILE:{tmp_path}/short"
    kdc.kinit("cmg-dns", ccache, lifetime="1s")
    while kdc.ticket_valid(ccache):  # wait for the ticket to expire (a wait, not a time assertion)
        time.sleep(0.2)
    time.sleep(2.5)  # and for the KDC's clock-skew grace (clockskew = 1 s in the test realm) to pass
    monkeypatch.setenv("KRB5CCNAME", ccache)
    with pytest.raises(DnsError) as caught:
        run_cname(_params(bind, kdc, "expired.contoso.test", keytab=None, principal=None))
    message = str(caught.value)
    assert message.startswith("GSS-TSIG: no Kerberos ticket for the default principal of the credential cache to "
                              "DNS/localhost from the Kerberos credential cache (KRB5CCNAME) ("), message
    assert "renew the ticket (kinit)" in message and "\n" not in message
    assert _answer(bind, "expired.contoso.test") == "NXDOMAIN"


def test_gss_tsig_needs_a_server_name() -> None:
    with pytest.raises(DnsError, match="key_algorithm=gss-tsig needs server as the DNS server's host name"):
        run_cname({"service_name": "a.contoso.test", "target": TARGET, "provider": "rfc2136", "server": "127.0.0.1",
                   "key_algorithm": "gss-tsig"})


def test_missing_gssapi_is_the_missing_library_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the optional gssapi package the task fails with missing_required_lib's message (through _module.run)."""
    monkeypatch.setitem(sys.modules, "gssapi", None)
    with pytest.raises(MissingDependencyError) as caught:
        run_cname({"service_name": "a.contoso.test", "target": TARGET, "provider": "rfc2136", "server": "localhost",
                   "port": 1, "zone": "contoso.test", "key_algorithm": "gss-tsig", "wait": False})
    assert caught.value.package == "gssapi"


def test_gss_tsig_through_the_module(bind: BindServer, kdc: KdcServer) -> None:
    """The module's argument spec takes gss-tsig, keytab and principal; the result is the same as through Python."""
    from tests.support.ansible import run_task  # pylint: disable=import-outside-toplevel

    args = _params(bind, kdc, "module.contoso.test")
    first = run_task("cmg_cname", args, env=kdc.env())
    assert first.rc == 0, first.stdout + first.stderr
    assert (first.result["changed"], first.result["record"]["target"]) == (True, TARGET)
    again = run_task("cmg_cname", args, env=kdc.env())
    assert again.result["changed"] is False
    assert _answer(bind, "module.contoso.test") == TARGET


def test_acme_dns01_with_gss_tsig(bind: BindServer, kdc: KdcServer, tmp_path) -> None:
    """cmg_cert_acme's DNS-01 over GSS-TSIG (Windows secure updates): Pebble validates the TXT record the DNS core
    wrote with Kerberos, and the record is gone afterwards."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._acme import AccountSpec, Server, issue
    from ansible_collections.configmgr.cmg.plugins.module_utils._acme_dns import dns_publisher
    from ansible_collections.configmgr.cmg.plugins.module_utils._cert_request import RequestSpec, request
    from tests.support.pebble import running_pebble

    params = {"provider": "rfc2136", "server": "localhost", "port": bind.port, "key_algorithm": "gss-tsig",
              "keytab": kdc.keytabs["cmg-dns"], "principal": kdc.principal("cmg-dns"), "wait_interval": 0.05}
    csr = request(RequestSpec("Kerberos.contoso.test", "passphrase"))["csr"].encode()
    with running_pebble(bind.address) as pebble, dns_publisher(params) as publisher:
        issued = issue(Server(pebble.directory_url, ca_path=pebble.ca_path),
                       AccountSpec(key_path=str(tmp_path / "account.key"), terms_agreed=True), csr, publisher)
    assert "BEGIN CERTIFICATE" in issued["certificate"]
    fqdn = "_acme-challenge.kerberos.contoso.test"
    assert [record["fqdn"] for record in issued["challenge_records"]] == [fqdn]
    assert [entry["ok"] for entry in publisher.propagation[fqdn]] == [True]
    with dns_publisher(params) as reader:
        assert not reader.provider.read(fqdn, "TXT").exists
