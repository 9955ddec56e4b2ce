"""_acme with a real Pebble (ACME) and a real BIND 9 (RFC 2136 through the DNS core): account, EAB, badNonce,
DNS-01 clean-up."""

from __future__ import annotations

import subprocess
from typing import Callable, Iterator

import dns.message
import dns.query
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._acme import AccountSpec, AcmeError, Server, issue
from ansible_collections.configmgr.cmg.plugins.module_utils._acme_dns import CorePublisher, dns_publisher
from ansible_collections.configmgr.cmg.plugins.module_utils._cert_request import RequestSpec, request
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import NameServer
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_rfc2136 import Rfc2136Options, Rfc2136Provider
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from tests.support.bind import BindServer, running_named
from tests.support.pebble import EAB_HMAC_KEY, EAB_KID, PebbleServer, running_pebble


@pytest.fixture(scope="module")
def pebble(bind_server: BindServer) -> Iterator[PebbleServer]:
    """Pebble resolving DNS-01 at the test BIND, with its default 5% nonce rejection on."""
    with running_pebble(bind_server.address) as server:
        yield server


def publisher(bind: BindServer, **extra) -> CorePublisher:
    """The DNS-01 publisher over the DNS core's RFC 2136 provider (TSIG), waiting at the zone's NS."""
    provider = Rfc2136Provider(Rfc2136Options(bind.host, bind.port, bind.key_name, bind.key_secret))
    return CorePublisher(provider, interval=0.05, **extra)


def csr(name: str) -> bytes:
    return request(RequestSpec(name, "passphrase"))["csr"].encode()


def txt_at(bind: BindServer, fqdn: str) -> set[str]:
    """The TXT strings BIND answers at ``fqdn`` (dnspython directly, not our code)."""
    response = dns.query.udp(dns.message.make_query(fqdn, "TXT"), bind.host, port=bind.port, timeout=3)
    return {b"".join(rdata.strings).decode() for rrset in response.answer if rrset.rdtype == dns.rdatatype.TXT
            for rdata in rrset}


def add_txt(bind: BindServer, fqdn: str, *values: str) -> None:
    """Someone else's TXT values at ``fqdn`` (a dynamic update with the test key)."""
    update = dns.update.UpdateMessage(fqdn.split(".", 2)[-1], keyring=dns.tsigkeyring.from_text(
        {bind.key_name: bind.key_secret}), keyalgorithm=bind.key_algorithm)
    for value in values:
        update.add(fqdn + ".", 60, "TXT", f'"{value}"')
    assert dns.query.tcp(update, bind.host, port=bind.port, timeout=3).rcode() == 0


class Watching:
    """The real publisher, recording what reached the name server (the test's eyes, not a stub)."""

    def __init__(self, real: CorePublisher, bind: BindServer) -> None:
        self.real, self.bind, self.seen = real, bind, {}

    def publish(self, fqdn: str, values: list[str]) -> Callable[[], None]:
        undo = self.real.publish(fqdn, values)
        self.seen[fqdn] = txt_at(self.bind, fqdn)
        return undo

    def wait(self, fqdn: str, values: list[str]) -> None:
        self.real.wait(fqdn, values)


def test_issue_with_new_then_reused_account(pebble, bind_server, tmp_path):
    request_pem = csr("GraniteFalls.contoso.test")
    server = Server(pebble.directory_url, ca_path=pebble.ca_path)
    account = AccountSpec(key_path=str(tmp_path / "account.key"), email="pki@contoso.test", terms_agreed=True)
    watching = Watching(publisher(bind_server), bind_server)
    first = issue(server, account, request_pem, watching)
    assert first["account_created"]
    fqdn = "_acme-challenge.granitefalls.contoso.test"
    assert [record["fqdn"] for record in first["challenge_records"]] == [fqdn]
    assert set(first["challenge_records"][0]["values"]) == watching.seen[fqdn] and len(watching.seen[fqdn]) == 1
    assert txt_at(bind_server, fqdn) == set()  # removed after success
    (tmp_path / "cert.pem").write_text(first["certificate"])
    text = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "cert.pem"), "-noout", "-subject", "-ext",
                           "subjectAltName"], capture_output=True, text=True, check=True).stdout
    assert "subject=CN = GraniteFalls.contoso.test" in text and "DNS:GraniteFalls.contoso.test" in text
    assert len(first["chain"]) == 1 and "Pebble Intermediate" in subprocess.run(
        ["openssl", "x509", "-noout", "-subject"], input=first["chain"][0], capture_output=True, text=True,
        check=True).stdout
    second = issue(server, account, request_pem, publisher(bind_server))
    assert not second["account_created"] and second["account_uri"] == first["account_uri"]


def test_bad_nonce_retried_with_heavy_rejection(bind_server, tmp_path):
    """Pebble rejects half the nonces at random: every order succeeds, and over three orders (about 30 signed
    requests) at least one badNonce is all but certain (one order alone had none about once in 500 runs)."""
    retries = 0
    with running_pebble(bind_server.address, nonce_reject=50) as noisy:
        for attempt in range(3):
            result = issue(Server(noisy.directory_url, ca_path=noisy.ca_path),
                           AccountSpec(key_path=str(tmp_path / "account.key"), terms_agreed=True),
                           csr(f"nonce{attempt}.contoso.test"), publisher(bind_server))
            assert "BEGIN CERTIFICATE" in result["certificate"]
            retries += result["bad_nonce_retries"]
    assert retries > 0


def test_external_account_binding_required(bind_server, tmp_path):
    with running_pebble(bind_server.address, eab_required=True) as strict:
        server = Server(strict.directory_url, ca_path=strict.ca_path)
        key = str(tmp_path / "account.key")
        with pytest.raises(AcmeError, match="requires External Account Binding: give eab_kid and eab_hmac_key"):
            issue(server, AccountSpec(key_path=key, terms_agreed=True), csr("eab.contoso.test"), publisher(bind_server))
        wrong = AccountSpec(key_path=key, terms_agreed=True, eab_kid=EAB_KID, eab_hmac_key="d3Jvbmcta2V5LXdyb25nLWtleQ")
        with pytest.raises(AcmeError, match="the CA refused to register the account"):
            issue(server, wrong, csr("eab.contoso.test"), publisher(bind_server))
        good = AccountSpec(key_path=key, terms_agreed=True, eab_kid=EAB_KID, eab_hmac_key=EAB_HMAC_KEY)
        result = issue(server, good, csr("eab.contoso.test"), publisher(bind_server))
    assert "BEGIN CERTIFICATE" in result["certificate"]


def test_terms_must_be_agreed(pebble, bind_server, tmp_path):
    with pytest.raises(AcmeError, match=r"terms of service \(data:text/plain.*set terms_agreed: true"):
        issue(Server(pebble.directory_url, ca_path=pebble.ca_path), AccountSpec(key_path=str(tmp_path / "a.key")),
              csr("terms.contoso.test"), publisher(bind_server))
    assert not (tmp_path / "a.key").exists()  # no account, so no account key left behind


def test_failed_challenge_leaves_no_txt_record(bind_server, tmp_path):
    """Pebble asks another BIND that never sees the record: the challenge fails, our record is gone."""
    with running_named(("contoso.test",)) as elsewhere, running_pebble(elsewhere.address) as blind:
        watching = Watching(publisher(bind_server), bind_server)
        with pytest.raises(AcmeError, match="the DNS-01 challenge failed: failed.contoso.test"):
            issue(Server(blind.directory_url, ca_path=blind.ca_path),
                  AccountSpec(key_path=str(tmp_path / "a.key"), terms_agreed=True), csr("failed.contoso.test"), watching)
    fqdn = "_acme-challenge.failed.contoso.test"
    assert len(watching.seen[fqdn]) == 1  # it was there while the CA looked
    assert txt_at(bind_server, fqdn) == set()


class FakeClock:
    """An injected clock that moves only when the code sleeps (no wall clock in tests)."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_propagation_timeout_removes_the_record(pebble, bind_server, tmp_path):
    clock = FakeClock()
    with running_named(("contoso.test",)) as lagging:
        slow = publisher(bind_server, servers=lambda _fqdn: [NameServer(lagging.host, lagging.host, lagging.port)],
                         wait_timeout=1.0, clock=clock, sleep=clock.sleep)
        slow.interval = 0.25
        with pytest.raises(CmgError, match=r"the TXT record _acme-challenge.slow.contoso.test did not reach the zone's "
                                           r"name servers within 1s \(wanted \"[-\w]+\"\): 127.0.0.1:\d+ answers "
                                           r"NXDOMAIN"):
            issue(Server(pebble.directory_url, ca_path=pebble.ca_path),
                  AccountSpec(key_path=str(tmp_path / "a.key"), terms_agreed=True), csr("slow.contoso.test"), slow)
    assert clock.sleeps == [0.25] * 4
    assert txt_at(bind_server, "_acme-challenge.slow.contoso.test") == set()


def test_untrusted_ca_server_is_one_line(pebble, tmp_path, bind_server):
    with pytest.raises(AcmeError, match="is not trusted: give ca_path"):
        issue(Server(pebble.directory_url), AccountSpec(key_path=str(tmp_path / "a.key"), terms_agreed=True),
              csr("tls.contoso.test"), publisher(bind_server))


def test_wait_asks_the_zones_name_servers(bind_server):
    """Without nameservers the wait asks the zone's NS servers (ns1.contoso.test -> 127.0.0.1 on the port)."""
    real = publisher(bind_server)
    fqdn = "_acme-challenge.wait.contoso.test"
    assert real.provider.nameservers(fqdn) == [NameServer("ns1.contoso.test", bind_server.host, bind_server.port)]
    undo = real.publish(fqdn, ["token-1", "token-2"])
    try:
        real.wait(fqdn, ["token-1", "token-2"])
        assert txt_at(bind_server, fqdn) == {"token-1", "token-2"}
        assert [entry["ok"] for entry in real.propagation[fqdn]] == [True]
    finally:
        undo()
    assert txt_at(bind_server, fqdn) == set()


def test_leftover_replaced_and_foreign_values_kept(bind_server):
    """A leftover of an interrupted run is replaced by the new values; the removal takes out only this run's
    values, so a value someone added meanwhile stays."""
    fqdn = "_acme-challenge.leftover.contoso.test"
    add_txt(bind_server, fqdn, "stale-token")
    real = publisher(bind_server)
    undo = real.publish(fqdn, ["fresh-token"])
    assert txt_at(bind_server, fqdn) == {"fresh-token"}
    add_txt(bind_server, fqdn, "other-order")
    undo()
    assert txt_at(bind_server, fqdn) == {"other-order"}
    publisher(bind_server).publish(fqdn, ["x"])()  # clean up: publish and remove
    assert txt_at(bind_server, fqdn) == set()


def test_publisher_from_module_options(bind_server):
    """The module's options (the registry's provider options, as cmg_cname) build the publisher; bad ones fail first."""
    params = {"provider": "rfc2136", "server": bind_server.host, "port": bind_server.port,
              "key_name": bind_server.key_name, "key_secret": bind_server.key_secret,
              "nameservers": [bind_server.address], "ttl": 120, "wait_timeout": 5, "wait_interval": 0.05}
    fqdn = "_acme-challenge.options.contoso.test"
    with dns_publisher(params) as core:
        undo = core.publish(fqdn, ["token"])
        core.wait(fqdn, ["token"])
        assert core.provider.read(fqdn, "TXT").ttl == 120
        undo()
    assert txt_at(bind_server, fqdn) == set()
    with pytest.raises(CmgError, match="provider=rfc2136 needs server"):
        with dns_publisher({"provider": "rfc2136"}):
            pass
    with pytest.raises(CmgError, match="the name server 'ns1:99999' has an invalid port"):
        with dns_publisher(dict(params, nameservers=["ns1:99999"])):
            pass
    with pytest.raises(CmgError, match="ttl must be between 1 and 86400 seconds, not 0"):
        with dns_publisher(dict(params, ttl=0)):
            pass
