"""Unit tests of the cmg_cert_info filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.configmgr.cmg.plugins.filter.cert import FilterModule, cmg_cert_info
from tests.support import pki
from tests.support.pki import Corpus, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The certificate corpus."""
    return build_corpus(tmp_path_factory.mktemp("pki"))


def test_filter_is_registered() -> None:
    assert FilterModule().filters() == {"cmg_cert_info": cmg_cert_info}


def test_facts_of_pem_bundle_match_openssl(corpus: Corpus) -> None:
    facts = cmg_cert_info(corpus.path("bundle.pem").read_text())
    oracle = pki.openssl_facts(corpus.path("leaf.pem"))
    assert {key: facts[key] for key in oracle} == oracle
    assert facts["common_name"] == "cmg.contoso.com" and facts["eku"] == ["serverAuth"]
    assert set(facts) == {"subject", "common_name", "sans", "issuer", "serial", "thumbprint", "sha256_fingerprint",
                          "not_before", "not_after", "days_remaining", "key_type", "key_size", "signature_hash",
                          "eku", "key_usage", "wildcard"}


def test_encrypted_key_in_text_is_not_read(corpus: Corpus) -> None:
    assert cmg_cert_info(corpus.path("encrypted_key.pem").read_text())["common_name"] == "cmg.contoso.com"


@pytest.mark.parametrize(("text", "message"), [
    ("", "the certificate content is empty"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n", "is truncated"),
    (42, "cmg_cert_info expects PEM text, not int"),
])
def test_bad_input_fails_clearly(text: object, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        cmg_cert_info(text)
