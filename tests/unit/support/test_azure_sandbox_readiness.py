"""The sandbox's readiness endpoints answer in the shapes of Microsoft's official REST examples.

The examples are read at test time from ``../shared/azure-rest-examples`` beside the project root (the first
``shared/azure-rest-examples`` found walking up from this file), never copied into the project.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.support.azure_sandbox.readiness import DEFAULT_USAGES

SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"


def _examples() -> Path:
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "azure-rest-examples"
        if candidate.is_dir():
            return candidate
    pytest.fail("no shared/azure-rest-examples beside the project root (see CHARTER.md: ../shared)")


def _example(name: str) -> dict:
    return json.loads((_examples() / name).read_text(encoding="utf-8"))["responses"]["200"]["body"]


def _keys(value, prefix=""):
    """Every key path of a JSON value (list items merged)."""
    if isinstance(value, dict):
        nested = {path for key, item in value.items() for path in _keys(item, f"{prefix}{key}.")}
        return {f"{prefix}{key}" for key in value} | nested
    if isinstance(value, list):
        return {path for item in value for path in _keys(item, f"{prefix}[].")}
    return set()


@pytest.fixture
def get(azure_sandbox):
    session = requests.Session()
    token = requests.post(f"{azure_sandbox.url}/{azure_sandbox.tenant}/oauth2/v2.0/token", verify=azure_sandbox.ca_file,
                          data={"grant_type": "client_credentials", "client_id": azure_sandbox.client_id,
                                "client_secret": azure_sandbox.client_secret, "scope": "x/.default"}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"

    def send(method, path, api_version=None):
        """``path`` from the sandbox's root with ``api_version``, or a full URL (a nextLink) as it is."""
        if path.startswith("https://"):
            return session.request(method, path, verify=azure_sandbox.ca_file)
        return session.request(method, f"{azure_sandbox.url}{path}", params={"api-version": api_version},
                               verify=azure_sandbox.ca_file)
    return send


def test_provider_get_and_register(azure_sandbox, get):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.KeyVault": "NotRegistered"}, "registering_polls": 1}})
    example = _example("resources_providers_get.json")
    answer = get("GET", f"{SUB}/providers/Microsoft.KeyVault", "2025-04-01")
    assert answer.status_code == 200
    assert set(answer.json()) == set(example)
    assert {key for key in _keys(example) if key.startswith("resourceTypes.[].") and "locationMappings" not in key} \
        <= _keys(answer.json())
    assert answer.json()["registrationState"] == "NotRegistered"
    registered = get("POST", f"{SUB}/providers/Microsoft.KeyVault/register", "2025-04-01")
    assert (registered.status_code, registered.json()["registrationState"]) == (200, "Registering")
    states = [get("GET", f"{SUB}/providers/Microsoft.KeyVault", "2025-04-01").json()["registrationState"]
              for _read in range(2)]
    assert states == ["Registering", "Registered"]
    assert get("GET", f"{SUB}/providers/Microsoft.KeyVault", "2021-04-01").json()["error"]["code"] == "InvalidApiVersionParameter"


def test_usages_shape(azure_sandbox, get):
    azure_sandbox.seed({"readiness": {"usages": {"West US": {"standardAv2Family": [6, 20]}}}})
    example = _example("compute_usage_list.json")
    answer = get("GET", f"{SUB}/providers/Microsoft.Compute/locations/westus/usages", "2025-11-01").json()
    assert _keys(answer) == _keys(example) - {"nextLink"}
    family = next(item for item in answer["value"] if item["name"]["value"] == "standardAv2Family")
    assert family == {"unit": "Count", "currentValue": 6, "limit": 20,
                      "name": {"value": "standardAv2Family", "localizedValue": "Standard Av2 Family vCPUs"}}


def test_usages_pages_follow_next_link(azure_sandbox, get):
    """With a page size, Usage_List answers pages in the example's shape, nextLink included, until the last."""
    azure_sandbox.seed({"readiness": {"usages_page_size": 4}})
    example = _example("compute_usage_list.json")
    path = f"{SUB}/providers/Microsoft.Compute/locations/westus/usages"
    first = get("GET", path, "2025-11-01").json()
    assert _keys(first) == _keys(example)
    assert first["nextLink"] == f"{azure_sandbox.url}{path}?api-version=2025-11-01&%24skiptoken=4"
    last = get("GET", first["nextLink"]).json()
    assert "nextLink" not in last and _keys(last) == _keys(example) - {"nextLink"}
    names = [item["name"]["value"] for item in first["value"] + last["value"]]
    assert (len(first["value"]), len(last["value"])) == (4, 3)
    assert sorted(names) == sorted(usage[0] for usage in DEFAULT_USAGES)
    bad = get("GET", first["nextLink"].replace("skiptoken=4", "skiptoken=x"))
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidSkipToken")


def test_scale_set_shape_and_not_found(azure_sandbox, get):
    azure_sandbox.seed({"readiness": {"scale_sets": [{"name": "cmg1", "resource_group": "rg-cmg", "location": "West US",
                                                      "size": "Standard_A4_v2", "capacity": 3}]}})
    example = _example("compute_virtualmachinescalesets_get.json")
    base = f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Compute/virtualMachineScaleSets"
    answer = get("GET", f"{base}/CMG1", "2025-11-01").json()
    assert set(answer) == set(example)
    assert set(answer["sku"]) == set(example["sku"]) and answer["sku"]["capacity"] == 3
    assert {"provisioningState", "upgradePolicy", "virtualMachineProfile"} <= set(answer["properties"])
    missing = get("GET", f"{base}/other", "2025-11-01")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")
    no_group = get("GET", base.replace("rg-cmg", "rg-none") + "/cmg1", "2025-11-01")
    assert (no_group.status_code, no_group.json()["error"]["code"]) == (404, "ResourceGroupNotFound")


def test_compute_reads_need_compute_registered(azure_sandbox, get):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.Compute": "Unregistered"}}})
    for path in (f"{SUB}/providers/Microsoft.Compute/locations/westus/usages",
                 f"{SUB}/resourceGroups/cmg-rg/providers/Microsoft.Compute/virtualMachineScaleSets/cmg1"):
        answer = get("GET", path, "2025-11-01")
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "MissingSubscriptionRegistration")
        assert "'Microsoft.Compute'" in answer.json()["error"]["message"]
