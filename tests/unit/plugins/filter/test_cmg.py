# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMG naming filters, called as Ansible calls them: through FilterModule().filters()."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.configmgr.cmg.plugins.filter.cmg import FilterModule
from tests.support.examples import GRANITEFALLS_NAMES

FILTERS = FilterModule().filters()


def _fails(filter_name: str, *args, **kwargs) -> str:
    """Call a filter that must fail and return its message."""
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[filter_name](*args, **kwargs)
    assert info.value.__cause__ is None
    return info.value.message


def test_filter_names():
    assert sorted(FILTERS) == ["cmg_cloud", "cmg_deployment_name", "cmg_names", "cmg_prefix"]


def test_cmg_cloud_resolves_like_the_modules(monkeypatch):
    monkeypatch.delenv("AZURE_CLOUD_ENVIRONMENT", raising=False)
    assert FILTERS["cmg_cloud"]("") == "AzureCloud"
    assert FILTERS["cmg_cloud"]("us-government") == "AzureUSGovernment"
    assert FILTERS["cmg_cloud"]("https://stack.example.test", region="USGov Virginia") == "AzureUSGovernment"
    assert FILTERS["cmg_cloud"]("https://stack.example.test", region="westus") == "AzureCloud"
    monkeypatch.setenv("AZURE_CLOUD_ENVIRONMENT", "AzureUSGovernment")
    assert FILTERS["cmg_cloud"](None) == "AzureUSGovernment"
    with pytest.raises(AnsibleFilterError, match="^unknown cloud environment 'Mars'"):
        FILTERS["cmg_cloud"]("Mars")


def test_cmg_prefix():
    assert FILTERS["cmg_prefix"]("GraniteFalls.contoso.com") == "GraniteFalls"
    assert FILTERS["cmg_prefix"]("*.contoso.com", prefix="GraniteFalls") == "GraniteFalls"


@pytest.mark.parametrize("kwargs, expected", [
    ({"region": "West US"}, "granitefalls.westus.cloudapp.azure.com"),
    ({"region": "(US) West US", "method": "vmss"}, "granitefalls.westus.cloudapp.azure.com"),
    ({"method": "classic"}, "granitefalls.cloudapp.net"),
    ({"region": "usgovtexas", "cloud": "AzureUSGovernment"}, "granitefalls.usgovtexas.cloudapp.usgovcloudapi.net"),
    ({"cloud": "AzureUSGovernment", "method": "classic"}, "granitefalls.usgovcloudapp.net"),
])
def test_cmg_deployment_name(kwargs, expected):
    assert FILTERS["cmg_deployment_name"]("GraniteFalls.contoso.com", **kwargs) == expected


def test_cmg_names_seed_example():
    names = FILTERS["cmg_names"]("GraniteFalls.contoso.com", region="westus", content_enabled=True, dns_zone="contoso.com")
    assert names == GRANITEFALLS_NAMES


@pytest.mark.parametrize("flag, severity", [(True, "error"), ("yes", "error"), ("true", "error"), (False, "warning"),
                                            ("no", "warning")])
def test_cmg_names_content_enabled_accepts_ansible_booleans(flag, severity):
    names = FILTERS["cmg_names"]("Granite-Falls.contoso.com", region="westus", content_enabled=flag)
    assert [(p["resource"], p["severity"]) for p in names["problems"]] == [("storage_account", severity)]


def test_cmg_names_wildcard_with_prefix():
    names = FILTERS["cmg_names"]("*.contoso.com", prefix="GraniteFalls", region="westus", dns_zone="contoso.com")
    assert (names["service_name"], names["record_name"]) == ("GraniteFalls.contoso.com", "granitefalls")


@pytest.mark.parametrize("filter_name, args, kwargs, message", [
    ("cmg_prefix", ("",), {},
     "the service name is empty: give a fully qualified host name such as GraniteFalls.contoso.com"),
    ("cmg_prefix", ("10.0.0.4",), {},
     "the service name '10.0.0.4' is an IP address: a CMG needs a DNS name such as "
     "GraniteFalls.contoso.com"),
    ("cmg_deployment_name", ("GraniteFalls.contoso.com",), {"region": "westus4"},
     "unknown AzureCloud region 'westus4'; did you mean westus, westus3, westus2, eastus?"),
    ("cmg_deployment_name", ("GraniteFalls.contoso.com",), {"region": "westus", "method": "arm"},
     "unknown deployment method 'arm': use 'vmss' or 'classic'"),
    ("cmg_names", ("Granite Falls.contoso.com",), {},
     "the service name 'Granite Falls.contoso.com' is not a valid host name: label 'Granite Falls' "
     "must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"),
    ("cmg_names", ("GraniteFalls.contoso.com",), {"dns_zone": "fabrikam.com"},
     "the DNS zone 'fabrikam.com' does not contain the service name 'granitefalls.contoso.com'"),
    ("cmg_names", ("*.contoso.com",), {},
     "'*.contoso.com' is a wildcard name: choose the CMG prefix (for example prefix=GraniteFalls "
     "gives GraniteFalls.contoso.com)"),
    ("cmg_names", ("GraniteFalls.contoso.com",), {"cloud": "Mars"},
     "unknown cloud environment 'Mars': use one of AzureCloud, AzureUSGovernment"),
    ("cmg_names", ("GraniteFalls.contoso.com",), {"content_enabled": "maybe"},
     "content_enabled must be a boolean, not 'maybe'"),
])
def test_bad_input_raises_filter_error_with_the_naming_message(filter_name, args, kwargs, message):
    assert _fails(filter_name, *args, **kwargs) == message
