# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the prepare role's decisions (module_utils._prepare) and of the role's argument spec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.configmgr.cmg.plugins.module_utils import _prepare, _vocabulary
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import NamingError

ROOT = Path(__file__).resolve().parents[4]
ARGSPEC = yaml.safe_load((ROOT / "roles" / "prepare" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
OPTIONS = ARGSPEC["argument_specs"]["main"]["options"]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "prepare" / "defaults" / "main.yml").read_text(encoding="utf-8"))


def test_launch_path(tmp_path) -> None:
    assert _prepare.launch_path("GraniteFalls.pfx", str(tmp_path)) == str(tmp_path / "GraniteFalls.pfx")
    assert _prepare.launch_path("../x/../y.pem", str(tmp_path / "a")) == str(tmp_path / "y.pem")
    assert _prepare.launch_path("/abs/cmg.pfx", str(tmp_path)) == "/abs/cmg.pfx"
    assert _prepare.launch_path("", str(tmp_path)) == ""
    assert _prepare.launch_path(None) == ""
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert _prepare.launch_path(pem, str(tmp_path)) == pem
    assert _prepare.launch_path("~/cmg.pfx", "/nowhere").startswith(str(Path.home()))


def test_launch_path_defaults_to_the_process_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", "/somewhere/else")
    assert _prepare.launch_path("reports") == str(tmp_path / "reports")


def test_unknown_region_gives_three_close_regions_in_one_line() -> None:
    message = _prepare.region_problem("West Uss")
    assert message.startswith("cmg_region: unknown AzureCloud region 'West Uss'; closest: westus, ")
    assert message.count(",") == 3 and "\n" not in message and len(message) < 200
    assert _prepare.region_problem("Mars").count(",") == 3  # nothing close: still three, never the whole list
    assert _prepare.region_problem("westus") is None
    assert _prepare.region_problem("") == "cmg_region is required, for example cmg_region: westus"
    assert "set cmg_cloud_environment" in _prepare.region_problem("usgovvirginia")


def test_input_problems_one_line_each() -> None:
    inputs = {"cmg_region": "westus", "cmg_certificate_path": "a.pfx", "cmg_dns_on_conflict": "overwrite",
              "cmg_dns_port": "abc", "cmg_dns_ttl": 0, "cmg_dns_provider": "rfc2136", "cmg_dns_server": ""}
    assert _prepare.input_problems(inputs) == [
        "cmg_dns_on_conflict must be one of fail, replace, not 'overwrite'",
        "cmg_dns_port must be a whole number, not 'abc'",
        "cmg_dns_ttl must be between 1 and 2147483647, not 0",
        "cmg_dns_provider rfc2136 needs cmg_dns_server (the primary name server of cmg_dns_zone)",
    ]
    assert _prepare.input_problems({"cmg_region": "westus"})[0].startswith("give the CMG certificate")
    assert _prepare.input_problems({"cmg_region": "westus", "cmg_certificate_path": "a", "cmg_certificate_content": True}) \
        == ["give the certificate as cmg_certificate_path or as cmg_certificate_content, not both"]
    assert _prepare.input_problems({"cmg_region": "westus"}, certificate_step=False) == [
        "the certificate step is not run: give the service name as cmg_service_name"]
    assert _prepare.input_problems({"cmg_region": "westus", "cmg_service_name": "a.b.c"}, certificate_step=False) == []


@pytest.mark.parametrize(("run_tags", "skip_tags", "runs"), [
    (["all"], [], True), (["availability"], [], False), (["certificate"], [], True), (["all"], ["certificate"], False)])
def test_runs_step(run_tags, skip_tags, runs) -> None:
    assert _prepare.runs_step("certificate", run_tags, skip_tags) is runs


def test_azure_domain_service_name_ignores_the_zone() -> None:
    names = _prepare.prepare_names("GraniteFalls.WestUS.CloudApp.Azure.Com", region="westus", dns_zone="contoso.com")
    assert names["cname_required"] is False
    assert names["cname_skip_reason"].endswith("no CNAME is needed (cmg_dns_zone contoso.com is not used)")
    assert _prepare.cname_skip_reason(names) == names["cname_skip_reason"]
    with pytest.raises(NamingError, match="does not contain the service name"):
        _prepare.prepare_names("GraniteFalls.fabrikam.com", region="westus", dns_zone="contoso.com")
    inside = _prepare.prepare_names("GraniteFalls.contoso.com", region="westus", dns_zone="contoso.com")
    assert (inside["record_name"], inside["cname_skip_reason"]) == ("granitefalls", "")


def test_cname_skip_reason() -> None:
    names = _prepare.prepare_names("GraniteFalls.contoso.com", region="westus", dns_zone="contoso.com")
    assert _prepare.cname_skip_reason(names) == ""
    assert _prepare.cname_skip_reason(names, manage_cname=False).startswith("cmg_manage_cname is false: create ")
    taken = {"available": False, "msg": "key_vault taken"}
    assert _prepare.cname_skip_reason(names, availability=taken) == \
        "the CMG names are not available in Azure: key_vault taken"
    assert _prepare.cname_skip_reason(names, method="dns", availability=taken) == ""
    assert _prepare.cname_skip_reason(names, availability={"skipped": True}) == ""


def test_certificate_stop() -> None:
    unknown = {"chain": {"trust": "unknown"}}
    assert "cmg_ca_bundle" in _prepare.certificate_stop(unknown)
    assert _prepare.certificate_stop(unknown, "continue") == ""
    assert _prepare.certificate_stop({"chain": {"trust": "enterprise"}}) == ""
    with pytest.raises(_prepare.PrepareError, match="cmg_unknown_trust must be one of stop, continue"):
        _prepare.certificate_stop(unknown, "maybe")


@pytest.mark.parametrize(("module_message", "role_message"), [
    ("the issuer is not in the file, ca_bundle or the trust store: add it to ca_bundle",
     "the issuer is not in the file, cmg_ca_bundle or the trust store: add it to cmg_ca_bundle"),
    ("the zone contoso.com has no NS records on 1.2.3.4:53; give the servers with the nameservers option",
     "the zone contoso.com has no NS records on 1.2.3.4:53; give the servers as cmg_dns_nameservers"),
    ("another target: use on_conflict=replace", "another target: use cmg_dns_on_conflict=replace"),
    ("AZURE_CLIENT_ID is kept", "AZURE_CLIENT_ID is kept"),
])
def test_role_words(module_message, role_message) -> None:
    assert _vocabulary.role_words(module_message) == role_message


def test_no_credential_message_names_the_sources_and_the_dns_method() -> None:
    text = _vocabulary.role_words("no Azure subscription given (auth_source msi): set subscription_id or "
                                  "AZURE_SUBSCRIPTION_ID")
    assert "auth_source" not in text and "subscription_id or" not in text
    for word in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_TENANT", "AZURE_PROFILE",
                 "cmg_name_check_method: dns"):
        assert word in text


# ---------------------------------------------------------------------------------------------
# the role's argument spec and the code agree


@pytest.mark.parametrize("name", sorted(_prepare.CHOICES))
def test_every_choice_is_documented_from_the_code(name) -> None:
    """The argument spec has no "choices" (the first task checks them in one line): its description lists exactly the
    choices of the code's constant, and the default is one of them."""
    assert "choices" not in OPTIONS[name]
    description = " ".join(OPTIONS[name]["description"])
    documented = re.findall(r"V\(([^)]+)\)", description)
    assert set(_prepare.CHOICES[name]) <= set(documented), (name, documented)
    assert DEFAULTS[name] in _prepare.CHOICES[name]
    assert OPTIONS[name]["default"] == DEFAULTS[name]


def test_no_option_has_choices_and_no_secret_is_validated() -> None:
    assert [name for name, spec in OPTIONS.items() if "choices" in spec] == []
    secrets = {"cmg_certificate_password", "cmg_dns_key_secret", "cmg_key_passphrase",
               "cmg_acme_account_key_passphrase", "cmg_acme_eab_hmac_key"}
    assert not secrets & set(OPTIONS)
    assert set(OPTIONS) | secrets == set(DEFAULTS) | {"cmg_region"}


# ---------------------------------------------------------------------------------------------
# cmg_certificate_source acme and csr


BASE = {"cmg_region": "westus", "cmg_certificate_path": "/certs/cmg.pfx", "cmg_service_name": "GraniteFalls.contoso.com"}


def test_file_source_keeps_todays_checks() -> None:
    assert _prepare.input_problems({**BASE, "cmg_certificate_source": "file"}) == []
    assert _prepare.input_problems({**BASE, "cmg_certificate_source": "pki"}) == [
        "cmg_certificate_source must be one of file, acme, csr, not 'pki'"]


def test_acme_source_needs_its_inputs() -> None:
    acme = {**BASE, "cmg_certificate_source": "acme"}
    assert _prepare.input_problems({**acme, "cmg_acme_directory_url": "https://ca.test/dir"}) == []
    assert _prepare.input_problems({"cmg_region": "westus", "cmg_certificate_source": "acme",
                                    "cmg_certificate_content": "x", "cmg_dns_provider": "rfc2136",
                                    "cmg_manage_cname": False}) == [
        "cmg_certificate_source acme needs cmg_certificate_path, where the PFX is written",
        "cmg_certificate_source acme writes the PFX to cmg_certificate_path: leave cmg_certificate_content empty",
        "cmg_certificate_source acme needs cmg_service_name, the CN of the certificate to request",
        "cmg_certificate_source acme needs cmg_acme_directory_url, the ACME directory of the CA",
        "cmg_certificate_source acme with cmg_dns_provider rfc2136 needs cmg_dns_server (the primary name server of "
        "the zone of the _acme-challenge record)"]


def test_csr_source_needs_the_issued_certificate_path() -> None:
    csr = {**BASE, "cmg_certificate_source": "csr"}
    assert _prepare.input_problems({**csr, "cmg_csr_certificate_path": "cmg.cer"}) == []
    assert _prepare.input_problems(csr) == ["cmg_certificate_source csr needs cmg_csr_certificate_path, where the "
                                            "issued certificate is put once the CA has signed the CSR"]
    # a partial run without the certificate step does not need them
    assert _prepare.input_problems(csr, certificate_step=False) == []


def test_source_files_sit_next_to_the_pfx(tmp_path) -> None:
    assert _prepare.source_files("/certs/GraniteFalls.PFX") == {
        "key": "/certs/GraniteFalls.key", "csr": "/certs/GraniteFalls.csr", "certificate": "/certs/GraniteFalls.crt",
        "chain": "/certs/GraniteFalls-chain.crt", "account_key": "/certs/acme-account.key"}
    assert _prepare.source_files("/certs/cmg.pfx", "/keys/account.key")["account_key"] == "/keys/account.key"
    with pytest.raises(_prepare.PrepareError, match="cmg_certificate_path is empty"):
        _prepare.source_files("")


def test_csr_next_step_names_the_csr_the_command_and_the_file() -> None:
    request = {"service_name": "GraniteFalls.contoso.com", "csr_path": "/certs/cmg.csr",
               "certreq": {"submit": 'certreq -submit -attrib "CertificateTemplate:WebServer" "cmg.csr" "cmg.cer"'}}
    assert _prepare.csr_next_step(request, "/certs/cmg.cer") == (
        "the certificate is not issued yet: the CSR for GraniteFalls.contoso.com is /certs/cmg.csr; have the CA sign "
        'it (on Windows: certreq -submit -attrib "CertificateTemplate:WebServer" "cmg.csr" "cmg.cer"), save the issued '
        "certificate (PEM, with its chain) as cmg_csr_certificate_path /certs/cmg.cer and run again; nothing was "
        "written to Azure or DNS")
    assert "would be written to /certs/cmg.csr" in _prepare.csr_next_step(request, "/certs/cmg.cer", check_mode=True)
    assert "(on Windows" not in _prepare.csr_next_step({}, "/certs/cmg.cer")


def test_tsig_algorithms_have_one_source() -> None:
    """The role's input check and cmg_cname's option take the TSIG algorithms from the DNS core (gss-tsig included)."""
    from ansible_collections.configmgr.cmg.plugins.module_utils import _dns_core  # pylint: disable=import-outside-toplevel

    assert _prepare.CHOICES["cmg_dns_key_algorithm"] is _dns_core.KEY_ALGORITHMS
    assert not [problem for problem in _prepare.input_problems({"cmg_region": "westus", "cmg_service_name": "x.contoso.com",
                                                                "cmg_dns_key_algorithm": "gss-tsig"})
                if "key_algorithm" in problem]


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("yes", True), ("On", True), (1, True), ("false", False), ("no", False), (0, False), (False, False),
    ("maybe", None), (None, None), ([], None), (2, None),
])
def test_truth_reads_booleans_as_ansible_does(value, expected) -> None:
    assert _prepare.truth(value) is expected


def test_boolean_inputs_are_checked_in_one_line() -> None:
    problems = _prepare.input_problems({"cmg_region": "westus", "cmg_service_name": "x.contoso.com",
                                        "cmg_manage_cname": "sometimes", "cmg_content_enabled": "yes"})
    assert problems == ["cmg_manage_cname must be true or false, not 'sometimes'"]
    # a manage_cname given as the string "false" needs no DNS server
    assert _prepare.input_problems({"cmg_region": "westus", "cmg_service_name": "x.contoso.com",
                                    "cmg_dns_provider": "rfc2136", "cmg_manage_cname": "false"}) == []
