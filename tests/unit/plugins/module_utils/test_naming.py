# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG naming rules, with every example of Microsoft's "CMG server authentication certificate"."""

from __future__ import annotations

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import NamingError
from ansible_collections.configmgr.cmg.plugins.module_utils._naming import (
    cloud_names,
    cname_required,
    deployment_name,
    derive_names,
    has_errors,
    name_problems,
    normalize_fqdn,
    normalize_region,
    relative_record_name,
    service_name,
    service_prefix,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._regions import REGIONS
from tests.support.examples import GRANITEFALLS_NAMES


def _raises(func, *args, **kwargs) -> NamingError:
    """Call ``func`` and return the NamingError it must raise."""
    with pytest.raises(NamingError) as info:
        func(*args, **kwargs)
    return info.value


def _resources(problems: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(problem["resource"], problem["severity"]) for problem in problems]


# --- the article's examples -------------------------------------------------------------------


def test_service_name_in_own_domain_gives_prefix_deployment_name_and_cname():
    names = derive_names("GraniteFalls.contoso.com", region="westus", content_enabled=True, dns_zone="contoso.com")
    assert names == GRANITEFALLS_NAMES


def test_service_name_that_is_the_vmss_deployment_name_needs_no_cname_and_gives_its_region():
    names = derive_names("GraniteFalls.WestUS.CloudApp.Azure.Com")
    assert names["service_name"] == "GraniteFalls.WestUS.CloudApp.Azure.Com"
    assert names["prefix"] == "GraniteFalls"
    assert names["region"] == "westus"
    assert names["deployment_name"] == "granitefalls.westus.cloudapp.azure.com"
    assert names["cname_required"] is False
    assert names["problems"] == []
    assert cname_required("GraniteFalls.WestUS.CloudApp.Azure.Com") is False
    assert deployment_name("GraniteFalls.WestUS.CloudApp.Azure.Com") == "granitefalls.westus.cloudapp.azure.com"


def test_azure_deployment_name_in_another_region_is_an_error():
    names = derive_names("GraniteFalls.WestUS.CloudApp.Azure.Com", region="eastus")
    assert names["deployment_name"] == "granitefalls.eastus.cloudapp.azure.com"
    assert names["problems"] == [{
        "resource": "service_name",
        "severity": "error",
        "message": "the service name 'GraniteFalls.WestUS.CloudApp.Azure.Com' is in Azure's domain cloudapp.azure.com but "
                   "the deployment name is 'granitefalls.eastus.cloudapp.azure.com': use a certificate for "
                   "'granitefalls.eastus.cloudapp.azure.com' or a service name in your own domain",
    }]


def test_classic_cloud_service_name():
    names = derive_names("GraniteFalls.CloudApp.Net", method="classic")
    assert names["deployment_name"] == "granitefalls.cloudapp.net"
    assert names["region"] is None
    assert names["cname_required"] is False
    assert names["problems"] == [{
        "resource": "deployment",
        "severity": "warning",
        "message": "the classic cloud service deployment is deprecated: deploy the CMG as a virtual machine scale set",
    }]
    assert deployment_name("GraniteFalls.contoso.com", method="classic") == "granitefalls.cloudapp.net"


def test_classic_service_name_cannot_move_to_a_scale_set():
    names = derive_names("GraniteFalls.CloudApp.Net", region="westus")
    assert names["deployment_name"] == "granitefalls.westus.cloudapp.azure.com"
    assert _resources(names["problems"]) == [("service_name", "error")]
    assert names["problems"][0]["message"] == (
        "the service name 'GraniteFalls.CloudApp.Net' is a classic cloud service name (cloudapp.net): a virtual machine "
        "scale set CMG needs a certificate for a name in your own domain or for the regional deployment name"
    )


def test_us_government_deployment_name_as_service_name():
    names = derive_names("GraniteFalls.usgovcloudapp.net", cloud="AzureUSGovernment", method="classic")
    assert names["deployment_name"] == "granitefalls.usgovcloudapp.net"
    assert names["cloud_environment"] == "AzureUSGovernment"
    assert names["cname_required"] is False
    assert _resources(names["problems"]) == [("deployment", "warning")]
    assert cname_required("GraniteFalls.usgovcloudapp.net", "AzureUSGovernment") is False


def test_us_government_service_name_with_the_public_cloud_is_an_error():
    names = derive_names("GraniteFalls.usgovcloudapp.net", region="westus")
    assert names["problems"] == [{
        "resource": "service_name",
        "severity": "error",
        "message": "the service name 'GraniteFalls.usgovcloudapp.net' is in the Azure domain of AzureUSGovernment, not of "
                   "AzureCloud: set the cloud environment to AzureUSGovernment or use a service name in your own domain",
    }]


def test_us_government_scale_set_deployment_name():
    assert deployment_name("GraniteFalls.contoso.com", "usgovvirginia", "AzureUSGovernment") == \
        "granitefalls.usgovvirginia.cloudapp.usgovcloudapi.net"
    assert deployment_name("GraniteFalls.contoso.com", cloud="AzureUSGovernment", method="classic") == \
        "granitefalls.usgovcloudapp.net"


def test_wildcard_certificate_takes_the_chosen_prefix():
    assert service_name("*.contoso.com", prefix="GraniteFalls") == "GraniteFalls.contoso.com"
    assert service_prefix("*.contoso.com", prefix="GraniteFalls") == "GraniteFalls"
    names = derive_names("*.contoso.com", region="West US", prefix="GraniteFalls", dns_zone="contoso.com")
    assert names["service_name"] == "GraniteFalls.contoso.com"
    assert names["deployment_name"] == "granitefalls.westus.cloudapp.azure.com"
    assert names["record_name"] == "granitefalls"
    assert names["cname_required"] is True


def test_wildcard_without_prefix_fails():
    assert str(_raises(service_name, "*.contoso.com")) == (
        "'*.contoso.com' is a wildcard name: choose the CMG prefix (for example prefix=GraniteFalls gives "
        "GraniteFalls.contoso.com)"
    )


def test_prefix_that_does_not_match_a_plain_service_name_fails():
    assert str(_raises(service_name, "GraniteFalls.contoso.com", prefix="Other")) == (
        "the prefix 'Other' does not match the service name 'GraniteFalls.contoso.com': a prefix is only chosen for a "
        "wildcard certificate"
    )
    assert service_name("GraniteFalls.contoso.com", prefix="granitefalls") == "GraniteFalls.contoso.com"


@pytest.mark.parametrize("prefix", ["-Granite", "Granite Falls", "a.b", "*", 7])
def test_invalid_chosen_prefix_fails(prefix):
    assert "prefix" in str(_raises(service_name, "*.contoso.com", prefix=prefix))


def test_storage_account_name_is_granitefalls():
    assert derive_names("GraniteFalls.contoso.com", content_enabled=True)["storage_account_name"] == "granitefalls"
    assert name_problems("granitefalls", content_enabled=True) == []


# --- the dash and length rules ----------------------------------------------------------------


def test_dash_is_an_error_for_a_content_enabled_storage_account():
    problems = name_problems("Granite-Falls", content_enabled=True)
    assert problems == [{
        "resource": "storage_account",
        "severity": "error",
        "message": "the prefix 'Granite-Falls' is not a valid storage account name ('granite-falls'): it must be 3-24 "
                   "lower-case letters and digits, no hyphen; a content-enabled CMG needs one: choose a prefix without "
                   "hyphens of at most 24 characters",
    }]
    assert has_errors(problems) is True


def test_dash_is_a_warning_without_content():
    problems = name_problems("Granite-Falls")
    assert _resources(problems) == [("storage_account", "warning")]
    assert problems[0]["message"].endswith("this matters only if you enable content on the CMG later")
    assert has_errors(problems) is False


def test_double_dash_breaks_the_key_vault_rule():
    assert _resources(name_problems("Granite--Falls")) == [("key_vault", "error"), ("storage_account", "warning")]


@pytest.mark.parametrize("prefix, expected", [
    ("gf", [("dns_label", "error"), ("key_vault", "error"), ("storage_account", "warning")]),
    ("gfa", []),
    ("g" * 24, []),
    ("g" * 25, [("key_vault", "error"), ("storage_account", "warning")]),
    ("g" * 63, [("key_vault", "error"), ("storage_account", "warning")]),
    ("g" * 64, [("dns_label", "error"), ("key_vault", "error"), ("storage_account", "warning")]),
    ("1granite", [("dns_label", "error"), ("key_vault", "error")]),
    ("granite-", [("dns_label", "error"), ("key_vault", "error"), ("storage_account", "warning")]),
    ("granitefalls\n", [("dns_label", "error"), ("key_vault", "error"), ("storage_account", "warning")]),
])
def test_length_and_character_rules(prefix, expected):
    assert _resources(name_problems(prefix)) == expected


def test_prefix_must_be_a_string():
    assert str(_raises(name_problems, None)) == "the prefix must be a string, not NoneType (None)"


def test_long_prefix_is_reported_by_derive_names_with_each_resource():
    prefix = "GraniteFallsContosoGateway1"  # 27 characters
    names = derive_names(f"{prefix}.contoso.com", region="westus", content_enabled=True)
    assert names["deployment_name"] == "granitefallscontosogateway1.westus.cloudapp.azure.com"
    assert _resources(names["problems"]) == [("key_vault", "error"), ("storage_account", "error")]


def test_apex_of_the_zone_cannot_hold_a_cname():
    names = derive_names("contoso.com", region="westus", dns_zone="contoso.com")
    assert names["record_name"] == "@"
    assert names["problems"][-1] == {
        "resource": "dns_record",
        "severity": "error",
        "message": "the service name 'contoso.com' is the apex of zone 'contoso.com': a CNAME cannot stand at a zone apex",
    }


# --- regions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["westus", "WestUS", "West US", "(US) West US", " west-us ", "WEST_US"])
def test_region_spellings(spelling):
    assert normalize_region(spelling) == "westus"
    assert deployment_name("GraniteFalls.contoso.com", region=spelling) == "granitefalls.westus.cloudapp.azure.com"


def test_region_display_names_round_trip_for_both_clouds():
    for cloud, regions in REGIONS.items():
        for canonical, (display, geography) in regions.items():
            assert normalize_region(display, cloud) == canonical
            assert normalize_region(f"({geography}) {display}", cloud) == canonical


def test_unknown_region_lists_close_matches():
    error = _raises(normalize_region, "westus4")
    assert str(error) == "unknown AzureCloud region 'westus4'; did you mean westus, westus3, westus2, eastus?"
    assert error.details == {"suggestions": ["westus", "westus3", "westus2", "eastus"]}


def test_misspelt_display_name_lists_close_matches():
    error = _raises(normalize_region, "West Europa")
    assert error.details["suggestions"][0] == "westeurope"


def test_region_without_any_close_match_lists_the_known_regions():
    error = _raises(normalize_region, "Mars")
    assert str(error).startswith("unknown AzureCloud region 'Mars'; known regions: australiacentral, australiacentral2, ")
    assert error.details == {"suggestions": []}


def test_region_of_the_other_cloud_names_that_cloud():
    assert str(_raises(normalize_region, "USGov Virginia")) == (
        "'USGov Virginia' is a region of AzureUSGovernment, not of AzureCloud: set the cloud environment to AzureUSGovernment"
    )


@pytest.mark.parametrize("region, message", [
    ("", "a region is required, for example 'westus'"),
    ("  ", "a region is required, for example 'westus'"),
    (None, "a region is required, for example 'westus'"),
    (42, "the region must be a string, not int (42)"),
])
def test_missing_region(region, message):
    assert str(_raises(normalize_region, region)) == message


def test_scale_set_deployment_name_needs_a_region():
    assert str(_raises(deployment_name, "GraniteFalls.contoso.com")) == (
        "a region is required to derive a virtual machine scale set deployment name, for example 'westus'"
    )
    assert derive_names("GraniteFalls.contoso.com")["deployment_name"] is None


# --- clouds and methods -----------------------------------------------------------------------


@pytest.mark.parametrize("spelling, expected", [
    (None, "AzureCloud"), ("", "AzureCloud"), ("AzureCloud", "AzureCloud"), ("azure_public_cloud", "AzureCloud"),
    ("AzureUSGovernment", "AzureUSGovernment"), ("us-government", "AzureUSGovernment"),
])
def test_cloud_spellings(spelling, expected):
    assert cloud_names(spelling).name == expected


def test_cloud_domains():
    assert cloud_names("AzureUSGovernment") == cloud_names("usgovernment")
    gov = cloud_names("AzureUSGovernment")
    assert (gov.cloudapp_domain, gov.classic_domain, gov.vault_suffix, gov.blob_suffix) == (
        "cloudapp.usgovcloudapi.net", "usgovcloudapp.net", "vault.usgovcloudapi.net", "blob.core.usgovcloudapi.net")


def test_unknown_cloud_fails():
    assert str(_raises(cloud_names, "AzureChinaCloud")) == (
        "unknown cloud environment 'AzureChinaCloud': use one of AzureCloud, AzureUSGovernment")


def test_method_is_case_insensitive_and_checked():
    assert deployment_name("GraniteFalls.contoso.com", "westus", method="VMSS") == "granitefalls.westus.cloudapp.azure.com"
    assert derive_names("GraniteFalls.contoso.com", method="Classic")["method"] == "classic"
    assert str(_raises(derive_names, "GraniteFalls.contoso.com", method="arm")) == (
        "unknown deployment method 'arm': use 'vmss' or 'classic'")


# --- bad inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("", "the service name is empty: give a fully qualified host name such as GraniteFalls.contoso.com"),
    ("  . ", "the service name is empty: give a fully qualified host name such as GraniteFalls.contoso.com"),
    (None, "the service name is empty: give a fully qualified host name such as GraniteFalls.contoso.com"),
    (17, "the service name must be a string, not int (17)"),
    ("192.0.2.10", "the service name '192.0.2.10' is an IP address: a CMG needs a DNS name such as GraniteFalls.contoso.com"),
    ("2001:db8::1", "the service name '2001:db8::1' is an IP address: a CMG needs a DNS name such as GraniteFalls.contoso.com"),
    ("GraniteFalls", "the service name 'GraniteFalls' is not fully qualified: give a name such as GraniteFalls.contoso.com"),
    ("Granite_Falls.contoso.com", "the service name 'Granite_Falls.contoso.com' is not a valid host name: label "
                                  "'Granite_Falls' must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"),
    ("-granite.contoso.com", "the service name '-granite.contoso.com' is not a valid host name: label '-granite' must be "
                             "1-63 letters, digits or hyphens, not starting or ending with a hyphen"),
    ("granite..contoso.com", "the service name 'granite..contoso.com' is not a valid host name: label '' must be 1-63 "
                             "letters, digits or hyphens, not starting or ending with a hyphen"),
    ("https://granite.contoso.com", "the service name 'https://granite.contoso.com' is not a valid host name: label "
                                    "'https://granite' must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"),
    ("granite.contoso.123", "the service name 'granite.contoso.123' is not a valid host name: the top-level domain is numeric"),
])
def test_bad_service_names(name, message):
    assert str(_raises(derive_names, name, region="westus")) == message


@pytest.mark.parametrize("name", [
    "gr\u00e5nite.contoso.com",  # not ASCII
    "granite.contoso.\u212aom",  # KELVIN SIGN lower-cases to an ASCII k
    "granite\n.contoso.com",  # a newline inside a label
    "a." + "b" * 64 + ".com",  # a label longer than 63
    "granite.*.com",  # a wildcard that is not the leftmost label
])
def test_invalid_host_names(name):
    assert "is not a valid host name" in str(_raises(normalize_fqdn, name))


def test_name_longer_than_253_characters():
    name = ".".join(["a" * 63] * 4) + ".com"
    assert str(_raises(normalize_fqdn, name)) == f"the service name {name!r} is longer than 253 characters"


def test_wildcard_is_refused_where_a_host_name_is_needed():
    assert str(_raises(cname_required, "*.contoso.com")) == (
        "the service name '*.contoso.com' is not a valid host name: label '*' must be 1-63 letters, digits or hyphens, "
        "not starting or ending with a hyphen (a wildcard is not allowed here: choose a prefix)"
    )


def test_trailing_dot_and_case():
    assert normalize_fqdn("GraniteFalls.Contoso.com.") == "GraniteFalls.Contoso.com"
    assert relative_record_name("GraniteFalls.Contoso.com.", "CONTOSO.COM.") == "granitefalls"
    assert relative_record_name("GraniteFalls.cmg.contoso.com", "contoso.com") == "granitefalls.cmg"


def test_zone_that_does_not_contain_the_service_name_fails():
    assert str(_raises(derive_names, "GraniteFalls.contoso.com", region="westus", dns_zone="fabrikam.com")) == (
        "the DNS zone 'fabrikam.com' does not contain the service name 'granitefalls.contoso.com'")
    # a zone is a whole-label suffix, not a string suffix
    assert str(_raises(relative_record_name, "GraniteFalls.notcontoso.com", "contoso.com")) == (
        "the DNS zone 'contoso.com' does not contain the service name 'granitefalls.notcontoso.com'")


def test_bad_zone_fails():
    assert str(_raises(relative_record_name, "GraniteFalls.contoso.com", "10.0.0.1")) == (
        "the DNS zone '10.0.0.1' is an IP address: a CMG needs a DNS name such as GraniteFalls.contoso.com")
