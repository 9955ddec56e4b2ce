# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault matrix of cmg_azure_readiness's compute reads (plain Resource Manager requests), against the sandbox.

The compute usages (Usage_List, first and next page) and the scale set (VirtualMachineScaleSets_Get) meet each
fault of :data:`tests.reliability.test_azure_faults.FAULTS` once, and an https-to-http redirect: a transient
fault is retried and the readiness completes with the same checks; a 200 whose body is not JSON ends in one line
that names the endpoint and the status; a redirect never reaches plain http. Sleeps are injected and recorded.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import AzureSession, RetrySettings
from ansible_collections.configmgr.cmg.plugins.module_utils._readiness import Waiter, readiness
from tests.support.azure_sandbox import AzureSandbox

from .conftest import PlainHttpTrap, one_line_error
from .test_azure_faults import FAULTS

#: Each compute read: (method, path regex, what its one-line messages say it was doing).
ENDPOINTS = {
    "usages": ("GET", r".*/providers/Microsoft\.Compute/locations/westus/usages", "reading the compute usages of westus"),
    "scale_set": ("GET", r".*/resourceGroups/rg-cmg/providers/Microsoft\.Compute/virtualMachineScaleSets/granitefalls",
                  "looking for the scale set 'granitefalls' in resource group 'rg-cmg'"),
}

#: The rows of a readiness where every read was answered (the scale set of the seed included).
ROWS = [("provider Microsoft.Compute", "pass"), ("provider Microsoft.Network", "pass"), ("provider Microsoft.Storage", "pass"),
        ("provider Microsoft.KeyVault", "pass"), ("quota cores", "pass"), ("quota standardAv2Family", "pass"),
        ("existing deployment", "pass")]


def _run(env: dict[str, str], sleeps: list[float]) -> tuple[Any, Any]:
    def factory(options: Any, environ: Any) -> AzureSession:
        return AzureSession.from_options(options, environ, RetrySettings(read_timeout=1.0, sleep=sleeps.append))

    options = {"prefix": "GraniteFalls", "region": "westus", "resource_group": "rg-cmg"}
    return one_line_error(lambda: readiness(options, environ=env, session_factory=factory,
                                            waiter=Waiter(clock=lambda: 0.0, sleep=sleeps.append)))


def _hits(sandbox: AzureSandbox, method: str, pattern: str) -> list[dict[str, str]]:
    return [r.query for r in sandbox.requests if r.method == method and re.fullmatch(pattern, r.path, re.IGNORECASE)]


@pytest.fixture
def seeded(azure_sandbox: AzureSandbox) -> AzureSandbox:
    """The CMG's scale set in rg-cmg, and the usages in pages of four (two pages: the next page is read too)."""
    azure_sandbox.seed({"readiness": {"usages_page_size": 4, "scale_sets": [
        {"name": "granitefalls", "resource_group": "rg-cmg", "location": "westus", "size": "Standard_A2_v2", "capacity": 1}]}})
    return azure_sandbox


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "usages_next_page"])
def test_fault_is_retried_or_one_line(seeded: AzureSandbox, sandbox_env: dict[str, str], endpoint: str, fault: str) -> None:
    method, pattern, doing = ENDPOINTS["usages" if endpoint == "usages_next_page" else endpoint]
    if endpoint == "usages_next_page":  # the first page answered as the sandbox does, then the fault on the second
        first = {"value": [{"unit": "Count", "currentValue": 0, "limit": 100,
                            "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}}],
                 "nextLink": f"{seeded.url}/subscriptions/{seeded.subscription_id}/providers/Microsoft.Compute/locations/"
                             "westus/usages?api-version=2025-11-01&%24skiptoken=4"}
        seeded.fault(method, pattern, 200, body=first)
    seeded.fault(method, pattern, times=1, **FAULTS[fault])
    sleeps: list[float] = []
    result, error = _run(sandbox_env, sleeps)
    sent = len(_hits(seeded, method, pattern)) - (1 if endpoint == "usages_next_page" else 0)
    if fault == "non_json_200":
        assert error is not None, f"{endpoint}/{fault} should fail in one line, got {result}"
        assert str(error) == f"{seeded.url}/ answered HTTP 200 without valid JSON while {doing}"
        assert sent == 1
        return
    assert error is None, f"{endpoint}/{fault} was not retried: {error}"
    assert [(row["name"], row["status"]) for row in result["checks"]] == ROWS
    assert result["existing_deployment"]["name"] == "granitefalls"
    assert sent == 2 + (1 if endpoint == "usages" else 0), "the faulty request was sent exactly twice (and the next page once)"
    if fault == "429_retry_after":
        assert sleeps == [7.0], "the service's Retry-After was waited for, once"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_https_to_http_redirect_is_refused(seeded: AzureSandbox, sandbox_env: dict[str, str], plain_http: PlainHttpTrap,
                                           endpoint: str) -> None:
    method, pattern, _doing = ENDPOINTS[endpoint]
    seeded.fault(method, pattern, status=307, action="redirect", times=5, headers={"Location": f"{plain_http.url}/stolen"})
    result, error = _run(sandbox_env, [])
    assert error is not None, f"a redirect to plain http was followed: {result}"
    assert "307" in str(error) and seeded.url in str(error) and "never leaves https" in str(error)
    assert plain_http.connections == 0
    assert len(_hits(seeded, method, pattern)) == 1


def test_next_link_to_plain_http_is_refused(seeded: AzureSandbox, sandbox_env: dict[str, str],
                                            plain_http: PlainHttpTrap) -> None:
    method, pattern, doing = ENDPOINTS["usages"]
    seeded.fault(method, pattern, 200, body={"value": [], "nextLink": f"{plain_http.url}/stolen?$skiptoken=1"})
    _result, error = _run(sandbox_env, [])
    assert str(error) == (f"Azure answered a next page at {plain_http.url}/stolen while {doing}: refused, next pages are "
                          f"read only over https from the Resource Manager {seeded.url}/")
    assert plain_http.connections == 0
