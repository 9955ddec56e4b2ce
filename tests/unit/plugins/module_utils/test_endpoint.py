"""_endpoint.inspect_endpoint against real TLS servers on loopback, reached through CNAMEs in a real BIND.

The clock is injected where days remaining matter; timeouts are asserted by what was reported (the
timeout named in the finding), never by measuring wall-clock time.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ansible_collections.configmgr.cmg.plugins.module_utils._endpoint import Request, inspect_endpoint
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from tests.support import pki
from tests.support.endpoints import CmgPki, TlsServer, add_cmg, add_records, closed_port, cmg_bind, cmg_pki

pytestmark = pytest.mark.bind
DAY = datetime.timedelta(days=1)


class Lab:
    """The BIND, the PKI and one server per scenario, each behind its own service name."""

    def __init__(self, bind: Any, ca: CmgPki) -> None:
        self.bind, self.ca, self.servers = bind, ca, {}
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.good = ca.leaf("good.contoso.test")
        self.other = ca.leaf("good.contoso.test")  # same name, another certificate
        leaves = {
            "good": (self.good, ca.issuing, ()),
            "expired": (ca.leaf("expired.contoso.test", not_before=now - 400 * DAY, not_after=now - 2 * DAY), ca.issuing, ()),
            "mismatch": (ca.leaf("www.fabrikam.test"), ca.issuing, ()),
            "untrusted": (ca.leaf("untrusted.contoso.test", issuer=ca.unknown_root), ca.unknown_root, ()),
            "oldtls": (ca.leaf("oldtls.contoso.test"), ca.issuing, ("TLSv1", "TLSv1_1")),
            "wrongcname": (ca.leaf("wrongcname.contoso.test"), ca.issuing, ()),
        }
        add_records(bind, "cloudapp.azure.com", [("elsewhere.eastus", "A", "127.0.0.1")])
        for name, (leaf, issuer, versions) in leaves.items():
            self.servers[name] = TlsServer(leaf, ca.chain_of(issuer), versions=versions).start()
            add_cmg(bind, name, target="elsewhere.eastus.cloudapp.azure.com" if name == "wrongcname" else None)
        self.servers["silent"] = TlsServer(mode="silent").start()
        add_cmg(bind, "silent")
        add_cmg(bind, "closed")
        self.closed = closed_port()

    def request(self, name: str, **options: Any) -> Request:
        port = self.closed if name == "closed" else self.servers.get(name, self.servers["good"]).port
        values = {"service_name": f"{name}.contoso.test", "port": port, "nameservers": (self.bind.address,),
                  "region": "westus", "ca_bundle": str(self.ca.ca_bundle), "timeout": 5.0, **options}
        return Request(**values)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with cmg_bind() as bind:
        made = Lab(bind, cmg_pki(tmp_path_factory.mktemp("endpoint-pki")))
        try:
            yield made
        finally:
            made.stop()


def codes(result: dict[str, Any]) -> set[str]:
    return {item["code"] for item in result["findings"]}


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in result["checks"]}


def test_good_chain_through_the_cname(lab: Lab) -> None:
    der = lab.good.cert.public_bytes(Encoding.DER)
    spaced = " ".join(hashlib.sha1(der).hexdigest()[i:i + 2] for i in range(0, 40, 2))
    result = inspect_endpoint(lab.request("good", expected_thumbprint="\u200e" + spaced))
    assert result["findings"] == [] and result["status"] == "pass", result["findings"]
    assert result["dns"]["cname_chain"] == ["good.westus.cloudapp.azure.com"]
    assert result["dns"]["deployment_name"] == result["dns"]["expected_deployment_name"] == "good.westus.cloudapp.azure.com"
    assert result["dns"]["addresses"] == ["127.0.0.1"] and result["address"] == "127.0.0.1"
    assert result["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and result["tls"]["cipher"]
    leaf = result["certificate"]
    assert leaf["thumbprint"] == hashlib.sha1(der).hexdigest().upper()
    assert leaf["sha256_fingerprint"] == hashlib.sha256(der).hexdigest().upper()
    assert leaf["sans"] == ["good.contoso.test"] and leaf["issuer"] == "CN=Endpoint Issuing CA,O=Corpus"
    assert result["chain"]["verified"] is True and result["chain"]["trust"] == "enterprise"
    assert [item["subject"] for item in result["chain"]["presented"]] == [
        "CN=good.contoso.test,O=Corpus", "CN=Endpoint Issuing CA,O=Corpus"]
    assert result["chain"]["path"][-1] == "CN=Endpoint Enterprise Root,O=Corpus"
    assert result["expected"] == {"by": "thumbprint", "matches": True}
    assert set(statuses(result).values()) == {"pass"}


def test_days_remaining_follow_the_injected_clock(lab: Lab) -> None:
    not_after = lab.good.cert.not_valid_after_utc
    soon = inspect_endpoint(lab.request("good"), now=not_after - 10 * DAY)
    assert soon["certificate"]["days_remaining"] == 10
    assert codes(soon) == {"expiring_soon"} and soon["status"] == "warn"
    assert statuses(soon)["expiry"] == "warn" and "in 10 days" in soon["findings"][0]["message"]
    assert codes(inspect_endpoint(lab.request("good", min_days_remaining=5), now=not_after - 10 * DAY)) == set()
    late = inspect_endpoint(lab.request("good"), now=not_after + DAY)
    assert codes(late) == {"expired"} and late["certificate"]["days_remaining"] == -1
    assert late["chain"]["verified"] is True  # expiry is reported once, under its own code


def test_expired_leaf(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("expired"))
    assert codes(result) == {"expired"} and result["status"] == "fail"
    assert result["certificate"]["days_remaining"] < 0


def test_name_mismatch(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("mismatch"))
    assert codes(result) == {"name_mismatch"}
    assert "www.fabrikam.test" in result["findings"][0]["message"]
    assert result["chain"]["verified"] is True


def test_chain_the_bundle_does_not_trust(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("untrusted"))
    assert codes(result) == {"untrusted"} and result["chain"]["trust"] == "untrusted"
    assert result["chain"]["error"] and statuses(result)["trust"] == "fail"
    without_bundle = inspect_endpoint(lab.request("good", ca_bundle=None))
    assert codes(without_bundle) == {"untrusted"}  # the enterprise root is not a public one


def test_old_tls_only_server(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("oldtls"))
    assert codes(result) == {"tls_below_1_2"}, result["findings"]
    if result["tls"] is not None:  # the local OpenSSL still speaks TLS 1.1: the session shows it
        assert result["tls"]["version"] in ("TLSv1", "TLSv1.1")
    else:  # it refuses TLS 1.0/1.1 even at security level 0: the refusal is the finding
        assert "handshake" in result["findings"][0]["message"]


def test_different_certificate_than_expected(lab: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(pki.pem(lab.other.cert))
    result = inspect_endpoint(lab.request("good", expected_certificate=str(other)))
    assert codes(result) == {"not_expected_certificate"} and result["expected"] == {"by": "certificate", "matches": False}
    bundle = tmp_path / "deployed.pfx"
    bundle.write_bytes(pki.pfx(lab.good, (lab.ca.issuing.cert,)))
    same = inspect_endpoint(lab.request("good", expected_certificate=str(bundle),
                                        expected_certificate_password=pki.PASSWORD))
    assert same["expected"]["matches"] is True and codes(same) == set()
    sha256 = hashlib.sha256(lab.other.cert.public_bytes(Encoding.DER)).hexdigest()
    assert codes(inspect_endpoint(lab.request("good", expected_thumbprint=sha256))) == {"not_expected_certificate"}


def test_closed_port(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("closed"))
    assert codes(result) == {"unreachable"} and "refused" in result["findings"][0]["message"].lower()
    assert statuses(result) == {"dns": "pass", "connect": "fail", "tls_version": "skip", "trust": "skip",
                                "name": "skip", "expiry": "skip", "expected": "skip"}
    assert result["status"] == "fail" and result["certificate"] is None


def test_port_that_accepts_and_never_answers(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("silent", timeout=0.3))
    assert codes(result) == {"unreachable"}
    assert "TLS handshake" in result["findings"][0]["message"] and "timed out after 0.3s" in result["findings"][0]["message"]


def test_cname_to_another_deployment(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("wrongcname"))
    assert codes(result) == {"cname_wrong_target"}
    assert "elsewhere.eastus.cloudapp.azure.com" in result["findings"][0]["message"]
    assert inspect_endpoint(lab.request("wrongcname", region=None))["findings"] == []  # not checked without one


def test_name_that_does_not_resolve(lab: Lab) -> None:
    result = inspect_endpoint(lab.request("missing"))
    assert codes(result) == {"unresolved"} and "NXDOMAIN" in result["findings"][0]["message"]
    assert statuses(result)["connect"] == "skip" and result["status"] == "fail"


def test_name_server_that_never_answers(lab: Lab) -> None:
    silent = TlsServer(mode="silent")  # a port with no DNS server: UDP queries go unanswered
    try:
        result = inspect_endpoint(lab.request("good", nameservers=(f"127.0.0.1:{silent.port}",), timeout=0.2))
    finally:
        silent.stop()
    assert codes(result) == {"unresolved"} and "no answer within 0.2s" in result["findings"][0]["message"]


@pytest.mark.parametrize("options, fragment", [
    ({"expected_thumbprint": "12:34"}, "neither a SHA-1"),
    ({"timeout": 0.0}, "timeout 0"),
    ({"timeout": 301.0}, "at most 300"),
    ({"port": 70000}, "not a TCP port"),
    ({"service_name": "not_a.name"}, "not a valid host name"),
    ({"ca_bundle": "/does/not/exist.pem"}, "cannot be read"),
    ({"expected_certificate": "/does/not/exist.pfx"}, "expected_certificate: certificate file"),
])
def test_bad_input_is_one_line_before_any_traffic(lab: Lab, options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(CmgError) as caught:
        inspect_endpoint(lab.request("good", **options))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_system_resolver_without_nameservers() -> None:
    from ansible_collections.configmgr.cmg.plugins.module_utils._endpoint import resolve_system

    found = resolve_system("localhost", 443)
    assert "127.0.0.1" in found["addresses"] and found["answered_by"] == "the system resolver"
    with pytest.raises(CmgError) as caught:
        resolve_system("name.invalid", 443)
    assert "does not resolve on the host that runs the task" in str(caught.value)
