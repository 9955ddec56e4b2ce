# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One record per cloud, and the one function that resolves it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils import _clouds
from ansible_collections.configmgr.cmg.plugins.module_utils._clouds import API_VERSIONS, CLOUDS, resolve
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import NamingError
from ansible_collections.configmgr.cmg.plugins.module_utils._regions import REGIONS

#: ``shared/`` beside the project root (in a git worktree, beside one of its parents).
SOURCES = next((parent / "shared" / "azure-rest-examples" / "SOURCES.md" for parent in Path(__file__).resolve().parents
                if (parent / "shared" / "azure-rest-examples" / "SOURCES.md").is_file()),
               Path("../shared/azure-rest-examples/SOURCES.md"))


def test_every_cloud_has_every_field_and_its_regions():
    for name, cloud in CLOUDS.items():
        assert cloud.name == name
        for url in (cloud.resource_manager, cloud.authority, cloud.audience):
            assert url.startswith("https://") and url.endswith("/")
        assert all((cloud.cloudapp_domain, cloud.classic_domain, cloud.vault_suffix, cloud.storage_suffix))
        assert cloud.regions is REGIONS[name] and cloud.regions
    assert sorted(CLOUDS) == sorted(REGIONS)


@pytest.mark.parametrize("value, env, region, expected", [
    (None, {}, None, "AzureCloud"),
    ("", {"AZURE_CLOUD_ENVIRONMENT": " usgovernment "}, None, "AzureUSGovernment"),
    ("AzureCloud", {"AZURE_CLOUD_ENVIRONMENT": "AzureUSGovernment"}, None, "AzureCloud"),
    ("https://stack.example.test", {}, "usgovvirginia", "AzureUSGovernment"),
    ("https://stack.example.test", {}, "(US) West US", "AzureCloud"),
    ("https://stack.example.test", {}, None, "AzureCloud"),
])
def test_resolve_from_option_environment_and_region(value, env, region, expected):
    assert resolve(value, env, region=region).name == expected


def test_url_cloud_names_by_its_metadata_and_keeps_its_url():
    cloud = resolve("https://stack.example.test", {}, region="westus", metadata_name="AzureUSGovernment")
    assert (cloud.name, cloud.resource_manager, cloud.custom, cloud.cloudapp_domain) == (
        "AzureUSGovernment", "https://stack.example.test/", True, "cloudapp.usgovcloudapi.net")


@pytest.mark.parametrize("value, message", [
    ("AzureChinaCloud", "unknown cloud environment 'AzureChinaCloud': use one of AzureCloud, AzureUSGovernment or the "
                        "https URL of a Resource Manager endpoint"),
    ("http://stack.example.test", "the cloud_environment URL 'http://stack.example.test' must be an https URL: "
                                  "credentials are never sent over plain http"),
    ("https://stack.example.test:99999", "the cloud_environment URL 'https://stack.example.test:99999' is not a "
                                         "valid URL (Port out of range 0-65535)"),
    ("https://[::1", "the cloud_environment URL 'https://[::1' is not a valid URL (Invalid IPv6 URL)"),
    (42, "the cloud environment must be a string, not int"),
])
def test_resolve_refuses_in_one_line(value, message):
    with pytest.raises(NamingError) as error:
        resolve(value, {})
    assert str(error.value) == message


def test_api_versions_are_those_of_the_official_examples():
    if not SOURCES.is_file():
        pytest.fail(f"{SOURCES} is missing: the workplace provides it beside the project")
    text = SOURCES.read_text(encoding="utf-8")
    documented = set(re.findall(r"\| (\d{4}-\d{2}-\d{2}) \(", text))
    assert set(API_VERSIONS.values()) - {API_VERSIONS["metadata"]} <= documented


def test_region_cloud_is_unique_or_none():
    assert _clouds.region_cloud("USDoD East") == "AzureUSGovernment"
    assert _clouds.region_cloud("atlantis") is None
    assert _clouds.region_cloud(None) is None
