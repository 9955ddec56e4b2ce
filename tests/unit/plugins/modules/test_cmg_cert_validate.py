"""Unit tests of the cmg_cert_validate module's own logic (fail_on) over the certificate corpus."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.configmgr.cmg.plugins.modules import cmg_cert_validate
from tests.support.pki import CASES, Corpus, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The certificate corpus."""
    return build_corpus(tmp_path_factory.mktemp("pki"))


def params(corpus: Corpus, case_name: str, **overrides: Any) -> dict[str, Any]:
    """Module parameters for a corpus case, with the argument spec's defaults."""
    values = {name: spec.get("default") for name, spec in cmg_cert_validate.ARGUMENT_SPEC.items()}
    case = next(case for case in CASES if case.name == case_name)
    values.update(corpus.options(case))
    values.update(overrides)
    return values


def test_valid_certificate_does_not_fail(corpus: Corpus) -> None:
    result = cmg_cert_validate.judge(params(corpus, "good_rsa2048"))
    assert "failed" not in result and "msg" not in result
    assert result["changed"] is False and result["valid"] is True


def test_error_finding_fails_with_facts_kept(corpus: Corpus) -> None:
    result = cmg_cert_validate.judge(params(corpus, "expired"))
    assert result["failed"] is True
    assert result["msg"].startswith("the certificate has 1 finding(s) at error level or worse: expired: the certificate expired on ")
    assert "\n" not in result["msg"]
    assert result["certificate"]["common_name"] == "cmg.contoso.com"
    assert {item["code"] for item in result["findings"]} == {"expired", "chain_enterprise"}


@pytest.mark.parametrize(("fail_on", "fails"), [("error", False), ("warning", True), ("never", False)])
def test_fail_on_levels_with_a_warning(corpus: Corpus, fail_on: str, fails: bool) -> None:
    result = cmg_cert_validate.judge(params(corpus, "expiring_soon", fail_on=fail_on))
    assert result.get("failed", False) is fails
    assert result["valid"] is True


def test_never_reports_errors_without_failing(corpus: Corpus) -> None:
    result = cmg_cert_validate.judge(params(corpus, "self_signed", fail_on="never"))
    assert "failed" not in result and result["valid"] is False


def test_password_is_no_log() -> None:
    assert cmg_cert_validate.ARGUMENT_SPEC["password"]["no_log"] is True


@pytest.mark.parametrize(("environment", "option", "domain"), [
    ("AzureUSGovernment", None, "usgovcloudapi.net"),
    (None, None, "cloudapp.azure.com"),
    ("AzureUSGovernment", "AzureCloud", "cloudapp.azure.com"),
])
def test_cloud_follows_the_option_then_azure_cloud_environment(corpus: Corpus, monkeypatch: pytest.MonkeyPatch,
                                                               environment: str | None, option: str | None,
                                                               domain: str) -> None:
    """AWX injects AZURE_CLOUD_ENVIRONMENT: the names follow it unless the option says otherwise."""
    if environment is None:
        monkeypatch.delenv("AZURE_CLOUD_ENVIRONMENT", raising=False)
    else:
        monkeypatch.setenv("AZURE_CLOUD_ENVIRONMENT", environment)
    region = "usgovvirginia" if domain == "usgovcloudapi.net" else "westus"
    result = cmg_cert_validate.judge(params(corpus, "good_rsa2048", region=region, cloud_environment=option))
    assert result["names"]["deployment_name"].endswith("." + domain), result["names"]
