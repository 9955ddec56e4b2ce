"""Unit tests of module_utils._certificate against the corpus of tests.support.pki."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import certifi
import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils import _certificate
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CertificateError, NamingError
from tests.support import pki
from tests.support.pki import CASES, PASSWORD, UNREADABLE, Corpus

COLLECTIONS = Path(__file__).resolve().parents[4] / ".build" / "collections"


def validate(**options: Any) -> dict[str, Any]:
    """``_certificate.validate`` for the options of a request."""
    return _certificate.validate(_certificate.ValidationRequest(**options))


def run(corpus: Corpus, case: pki.Case, **overrides: Any) -> dict[str, Any]:
    """Validate a corpus case with its options (``format`` is ``fmt`` in Python)."""
    options = corpus.options(case)
    options.update(overrides)
    return validate(**options)


def codes(result: dict[str, Any]) -> set[str]:
    """The finding codes of a result."""
    return {item["code"] for item in result["findings"]}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case_gives_exact_codes(cert_corpus: Corpus, case: pki.Case) -> None:
    result = run(cert_corpus, case)
    assert codes(result) == case.codes, result["findings"]
    assert result["valid"] is not any(item["severity"] == "error" for item in result["findings"])
    for item in result["findings"]:
        assert item["severity"] == (_certificate.SEVERITY.get(item["code"]) or item["severity"])
        assert "\n" not in item["message"] and item["message"]


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_file_gives_one_line_error(cert_corpus: Corpus, name: str) -> None:
    file, password, fragment = UNREADABLE[name]
    with pytest.raises(CertificateError) as caught:
        _certificate.load_certificate(str(cert_corpus.path(file)), password=password)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    assert PASSWORD not in message and pki.WRONG_PASSWORD not in message
    assert caught.value.details == {}


def test_wrong_password_is_not_called_corrupt_and_truncation_is_not_called_wrong_password(cert_corpus: Corpus) -> None:
    with pytest.raises(CertificateError, match="^wrong password for certificate file .*good_rsa2048.pfx': give"):
        _certificate.load_certificate(str(cert_corpus.path("good_rsa2048.pfx")), password="nope")
    with pytest.raises(CertificateError, match="is truncated: its data ends early"):
        _certificate.load_certificate(str(cert_corpus.path("truncated.pfx")), password=PASSWORD)


def test_flipped_byte_inside_pfx_is_caught(cert_corpus: Corpus) -> None:
    data = bytearray(cert_corpus.path("good_rsa2048.pfx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(CertificateError, match=r"(wrong password|is corrupt|cannot be opened)"):
        _certificate.load_certificate(content=base64.b64encode(bytes(data)).decode(), password=PASSWORD)


def test_legacy_pfx_without_legacy_provider_says_so(cert_corpus: Corpus) -> None:
    script = ("from ansible_collections.configmgr.cmg.plugins.module_utils._certificate import load_certificate\n"
              "import sys\n"
              "try:\n    load_certificate(sys.argv[1], password=sys.argv[2])\n"
              "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    env = dict(os.environ, CRYPTOGRAPHY_OPENSSL_NO_LEGACY="1", PYTHONPATH=str(COLLECTIONS))
    out = subprocess.run([sys.executable, "-c", script, str(cert_corpus.path("legacy_rc2.pfx")), PASSWORD],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.startswith("CertificateError certificate file ")
    assert "uses legacy RC2/3DES PFX encryption that this OpenSSL build cannot decrypt" in out
    assert out.count("\n") == 1


@pytest.mark.parametrize("file", ["leaf.pem", "leaf4096.pem"])
def test_facts_match_openssl(cert_corpus: Corpus, file: str) -> None:
    oracle = pki.openssl_facts(cert_corpus.path(file))
    facts = _certificate.certificate_info(cert_corpus.path(file).read_text())
    assert {key: facts[key] for key in oracle} == oracle


def test_legacy_pfx_leaf_matches_openssl(cert_corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "legacy.pem"
    subprocess.run(["openssl", "pkcs12", "-legacy", "-in", str(cert_corpus.path("legacy_rc2.pfx")), "-clcerts", "-nokeys",
                    "-passin", "env:PFXPASS", "-out", str(out)], check=True, capture_output=True,
                   env={"PFXPASS": PASSWORD, "PATH": os.environ["PATH"]})
    oracle = pki.openssl_facts(out)
    facts = _certificate.load_certificate(str(cert_corpus.path("legacy_rc2.pfx")), password=PASSWORD)
    assert {key: _certificate.certificate_facts(facts.leaf)[key] for key in oracle} == oracle


def test_good_certificate_facts(cert_corpus: Corpus) -> None:
    result = run(cert_corpus, CASES[0])
    cert = result["certificate"]
    assert cert["common_name"] == "cmg.contoso.com" and cert["sans"] == ["cmg.contoso.com"]
    assert cert["subject"] == "CN=cmg.contoso.com,O=Corpus"
    assert cert["issuer"] == "CN=Corpus Enterprise Issuing CA,O=Corpus"
    assert (cert["key_type"], cert["key_size"], cert["signature_hash"]) == ("RSA", 2048, "sha256")
    assert cert["eku"] == ["serverAuth"] and cert["key_usage"] == ["digitalSignature", "keyEncipherment"]
    assert (cert["has_private_key"], cert["private_key_matches"]) == (True, True)
    assert cert["friendly_name"] == "CMG server authentication" and cert["wildcard"] is False
    assert cert["days_remaining"] in (363, 364)
    assert len(cert["thumbprint"]) == 40 and cert["thumbprint"] == cert["thumbprint"].upper()
    assert result["chain"] == {"trust": "enterprise", "complete": True, "subjects": [
        "CN=cmg.contoso.com,O=Corpus", "CN=Corpus Enterprise Issuing CA,O=Corpus", "CN=Corpus Enterprise Root,O=Corpus"]}
    assert result["service_name"] == "cmg.contoso.com"
    assert result["names"]["prefix"] == "cmg" and result["names"]["problems"] == []
    assert result["valid"] is True


def test_private_key_never_in_result(cert_corpus: Corpus) -> None:
    result = run(cert_corpus, CASES[0])
    text = json.dumps(result)
    key_pem = pki.pem(pki.rsa_key(2048)).decode().splitlines()
    assert all(line not in text for line in key_pem[1:-1])
    assert "PRIVATE" not in text and PASSWORD not in text


def test_pfx_without_key_and_der(cert_corpus: Corpus) -> None:
    no_key = run(cert_corpus, next(case for case in CASES if case.name == "pfx_no_key"))["certificate"]
    assert (no_key["has_private_key"], no_key["private_key_matches"], no_key["common_name"]) == (False, None, "cmg.contoso.com")
    der = run(cert_corpus, next(case for case in CASES if case.name == "der"))
    assert der["chain"]["complete"] is False and der["chain"]["trust"] == "enterprise"


def test_public_chain_and_wildcard(cert_corpus: Corpus) -> None:
    public = run(cert_corpus, next(case for case in CASES if case.name == "public_good"))
    assert public["chain"]["trust"] == "public" and public["findings"] == [] and public["valid"] is True
    wildcard = run(cert_corpus, next(case for case in CASES if case.name == "wildcard"))
    assert wildcard["service_name"] == "GraniteFalls.contoso.com" and wildcard["certificate"]["wildcard"] is True
    assert wildcard["names"]["dns_label"] == "granitefalls"
    azure = run(cert_corpus, next(case for case in CASES if case.name == "azure_public"))
    assert azure["valid"] is False and azure["names"]["deployment_name"] == "grfalls.westus.cloudapp.azure.com"


def test_content_as_base64_pfx_and_pem_text(cert_corpus: Corpus) -> None:
    pfx = base64.b64encode(cert_corpus.path("good_rsa2048.pfx").read_bytes()).decode()
    by_content = validate(content=pfx, password=PASSWORD, trust=str(cert_corpus.public_roots),
                          ca_bundle=cert_corpus.ca_bundle.read_text())
    by_path = run(cert_corpus, CASES[0])
    assert by_content == by_path
    pem = validate(content=cert_corpus.path("bundle.pem").read_text(), trust=str(cert_corpus.public_roots),
                   ca_bundle=str(cert_corpus.ca_bundle))
    assert codes(pem) == {"chain_enterprise"} and pem["certificate"]["private_key_matches"] is True


def test_explicit_format_and_bad_content(cert_corpus: Corpus) -> None:
    with pytest.raises(CertificateError, match="is corrupt: it is not a readable DER certificate"):
        _certificate.load_certificate(str(cert_corpus.path("good_rsa2048.pfx")), fmt="der", password=PASSWORD)
    with pytest.raises(CertificateError, match="neither PEM text nor base64"):
        _certificate.load_certificate(content="this is not base64!")
    with pytest.raises(CertificateError, match="unknown certificate format 'p12'"):
        _certificate.load_certificate(content="x", fmt="p12")
    with pytest.raises(CertificateError, match="give exactly one of path or content"):
        _certificate.load_certificate()


def test_trust_certifi_and_system(cert_corpus: Corpus) -> None:
    public_good = next(case for case in CASES if case.name == "public_good")
    for trust in ("certifi", "system"):
        result = run(cert_corpus, public_good, trust=trust)
        assert result["chain"]["trust"] == "untrusted" and codes(result) == {"chain_untrusted"}


def test_certifi_pointing_outside_its_package_is_reported(cert_corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certifi, "where", lambda: str(cert_corpus.public_roots))
    result = run(cert_corpus, next(case for case in CASES if case.name == "public_good"), trust="certifi")
    assert codes(result) == {"trust_store_not_certifi"} and result["chain"]["trust"] == "public"


def test_missing_trust_path_and_bad_options(cert_corpus: Corpus) -> None:
    with pytest.raises(CertificateError, match="trust store '/nonexistent' does not exist"):
        run(cert_corpus, CASES[0], trust="/nonexistent")
    with pytest.raises(NamingError, match="unknown cloud environment"):
        run(cert_corpus, CASES[0], cloud_environment="Mars")
    with pytest.raises(NamingError, match="unknown AzureCloud region"):
        run(cert_corpus, CASES[0], region="atlantis")


def test_min_days_remaining(cert_corpus: Corpus) -> None:
    result = run(cert_corpus, CASES[0], min_days_remaining=400)
    assert codes(result) == {"chain_enterprise", "expiring_soon"}
    assert [item["message"] for item in result["findings"] if item["code"] == "expiring_soon"] == [
        f"the certificate expires on {result['certificate']['not_after']}, within the 400 days of min_days_remaining: "
        "renew it (same common name) before it expires"]
    assert codes(run(cert_corpus, CASES[0], min_days_remaining=0)) == {"chain_enterprise"}


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("*.contoso.com", "GraniteFalls.contoso.com", True),
    ("*.Contoso.com", "granitefalls.CONTOSO.com", True),
    ("*.contoso.com", "a.b.contoso.com", False),
    ("*.contoso.com", "contoso.com", False),
    ("cmg.contoso.com", "CMG.contoso.com.", True),
    ("gr*.contoso.com", "granite.contoso.com", False),
    ("*.*.com", "a.b.com", False),
])
def test_covers(pattern: str, name: str, expected: bool) -> None:
    assert _certificate.covers(pattern, name) is expected


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/ca.crl" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_check_urls_reports_unreachable_url(cert_corpus: Corpus, web: str) -> None:
    leaf = pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), cert_corpus.enterprise_intermediate,
                         crl=(f"{web}/ca.crl",), aia=(f"{web}/missing.crt",)).cert
    assert _certificate.revocation_findings(leaf) == []
    found = _certificate.revocation_findings(leaf, check_urls=True)
    assert [(item["code"], item["severity"]) for item in found] == [("url_unreachable", "warning")]
    assert found[0]["message"].startswith(f"{web}/missing.crt cannot be reached (HTTP 404)")


def test_every_code_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[4] / "docs" / "findings.md").read_text(encoding="utf-8")
    documented = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")}
    assert documented == set(_certificate.SEVERITY) | set(_certificate.NAME_PROBLEM_CODES.values())


def _case(name: str) -> pki.Case:
    return next(case for case in CASES if case.name == name)


def test_issuer_nowhere_gives_trust_unknown(cert_corpus: Corpus) -> None:
    for name in ("no_chain_no_bundle", "no_chain_root_only_bundle"):
        result = run(cert_corpus, _case(name))
        assert result["chain"] == {"trust": "unknown", "complete": False, "subjects": ["CN=cmg.contoso.com,O=Corpus"]}
        assert [item["message"] for item in result["findings"]] == [
            f"the issuer 'CN=Corpus Enterprise Issuing CA,O=Corpus' (published at {pki.AIA_URL}) is not in the file, "
            "ca_bundle or the trust store, so trust cannot be judged without it: add the intermediate certificates to "
            "the PFX ('Include all certificates in the certification path') or to ca_bundle"]
        assert result["valid"] is True


def test_server_auth_only_issuing_ca_with_and_without_san(cert_corpus: Corpus, tmp_path: Path) -> None:
    tls_ca = pki.make_cert("Corpus TLS CA", pki.rsa_key(2048, 7), cert_corpus.enterprise_root, ca=True,
                           ca_eku=(pki.SERVER_AUTH,))
    for sans in (None, ()):
        leaf = pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), tls_ca, sans=sans)
        bundle = tmp_path / "leaf.pem"
        bundle.write_bytes(pki.pem(leaf.cert, pki.rsa_key(2048), tls_ca.cert))
        result = validate(path=str(bundle), trust=str(cert_corpus.public_roots), ca_bundle=str(cert_corpus.ca_bundle))
        assert codes(result) == ({"chain_enterprise"} if sans is None else {"chain_enterprise", "san_missing"})
        assert result["chain"]["trust"] == "enterprise" and result["chain"]["complete"] is True


def test_client_auth_only_issuing_ca_fails_path_validation(cert_corpus: Corpus, tmp_path: Path) -> None:
    client_ca = pki.make_cert("Corpus Client CA", pki.rsa_key(2048, 8), cert_corpus.enterprise_root, ca=True,
                              ca_eku=(pki.CLIENT_AUTH,))
    bundle = tmp_path / "leaf.pem"
    bundle.write_bytes(pki.pem(pki.make_cert("cmg.contoso.com", pki.rsa_key(2048), client_ca).cert, pki.rsa_key(2048),
                               client_ca.cert))
    result = validate(path=str(bundle), trust=str(cert_corpus.public_roots), ca_bundle=str(cert_corpus.ca_bundle))
    assert codes(result) == {"chain_enterprise", "chain_invalid"}


def test_cn_not_service_name_message(cert_corpus: Corpus) -> None:
    result = run(cert_corpus, _case("cn_not_service_name"))
    assert [item["message"] for item in result["findings"] if item["code"] == "cn_not_service_name"] == [
        "the common name 'Contoso Web Server' is not the service name 'GraniteFalls.contoso.com': the CMG takes its "
        "service name from the CN, not from the SANs; request a certificate whose CN is 'GraniteFalls.contoso.com'"]


@pytest.mark.parametrize(("name", "expected"), [
    ("*.cloudapp.azure.com", "cloudapp.azure.com"),
    ("cloudapp.azure.com", "cloudapp.azure.com"),
    ("GrFalls.WestUS.CloudApp.Azure.com.", "cloudapp.azure.com"),
    ("*.cloudapp.net", "cloudapp.net"),
    ("cmg.usgovcloudapi.net", "usgovcloudapi.net"),
    ("*.usgovcloudapi.net", "usgovcloudapi.net"),
    ("grfalls.usgovvirginia.cloudapp.usgovcloudapi.net", "cloudapp.usgovcloudapi.net"),
    ("grfalls.usgovcloudapp.net", "usgovcloudapp.net"),
    ("cloudapp.azure.com.contoso.com", None),
    ("notcloudapp.azure.com", None),
    ("*.contoso.com", None),
])
def test_azure_host_domain(name: str, expected: str | None) -> None:
    assert _certificate.azure_host_domain(name) == expected


def test_azure_domain_public_ca_for_wildcard_and_usgov() -> None:
    for name in ("*.cloudapp.azure.com", "cmg.usgovcloudapi.net"):
        assert [item["code"] for item in _certificate.azure_domain_findings([name], "public")] == ["azure_domain_public_ca"]
        assert _certificate.azure_domain_findings([name], "enterprise") == []
    assert _certificate.azure_domain_findings(["GraniteFalls.contoso.com"], "public") == []


def test_previous_certificate_pfx_with_another_password(cert_corpus: Corpus) -> None:
    previous = str(cert_corpus.path("previous_other_password.pfx"))
    with pytest.raises(CertificateError) as caught:
        run(cert_corpus, CASES[0], previous_certificate=previous)
    assert str(caught.value) == (
        f"previous_certificate {previous}: wrong password for certificate file {previous!r}: give the password the PFX "
        "was exported with (give the previous certificate as PEM/DER or a PFX with the same password)")


def test_validate_takes_one_request_or_its_keyword_options(cert_corpus: Corpus) -> None:
    options = cert_corpus.options(CASES[0])
    by_request = _certificate.validate(_certificate.ValidationRequest(**options))
    assert _certificate.validate(**options) == by_request
    params = dict(options, format="auto", fail_on="error", service_name=None)
    assert _certificate.validate(_certificate.ValidationRequest.from_params(params)) == by_request
    with pytest.raises(TypeError, match="not both"):
        _certificate.validate(_certificate.ValidationRequest(**options), trust="certifi")
