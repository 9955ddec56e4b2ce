# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault matrix of the Azure access and name-check code, against the sandbox.

Every request ``cmg_name_available`` (method arm) sends, the cloud metadata fetch, the token request
and the three name checks, meets each fault once: 429 with Retry-After, 500, 503, a connection reset
before and after the server handled the request, a read timeout, a 200 whose body is not JSON, and
an https-to-http redirect. Expected: a transient fault is retried and the check completes; any
other ends in one line that names the endpoint and the status; a redirect never reaches plain http.
The sleeps between retries are injected and recorded: the tests assert what was waited for.
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._availability import name_availability
from ansible_collections.configmgr.cmg.plugins.module_utils._azure import AzureSession, RetrySettings
from tests.support.azure_sandbox import AzureSandbox

from .conftest import PlainHttpTrap, one_line_error

#: Each request: (method, path regex, the check that sends it, what a message calls the endpoint).
ENDPOINTS = {
    "metadata": ("GET", r"/metadata/endpoints", "key_vault", "cloud metadata endpoint"),
    "token": ("POST", r"/[^/]+/oauth2/v2\.0/token", "key_vault", "login endpoint"),
    "dns_label": ("GET", r".*/locations/westus/CheckDnsNameAvailability", "dns_label", None),
    "key_vault": ("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", "key_vault", None),
    "storage_account": ("POST", r".*/Microsoft\.Storage/checkNameAvailability", "storage_account", None),
}

#: The faults: the sandbox.fault() arguments, and whether the request is retried (True) or fails in one line.
FAULTS: dict[str, dict[str, Any]] = {
    "429_retry_after": {"status": 429, "headers": {"Retry-After": "7"}},
    "500": {"status": 500},
    "503": {"status": 503},
    "reset_before": {"action": "reset_before"},
    "reset_after": {"action": "reset_after"},
    "read_timeout": {"action": "stall"},
    "non_json_200": {"action": "html"},
}

#: Faults that end in an error rather than a retry: (endpoint, fault) -> what the one-line message must hold.
NOT_RETRIED = {
    ("token", "non_json_200"): "answered HTTP 200 without a token",
    ("metadata", "non_json_200"): "answered HTTP 200 without JSON",
    ("dns_label", "non_json_200"): "answered HTTP 200 without valid JSON",
    ("key_vault", "non_json_200"): "answered HTTP 200 without valid JSON",
    ("storage_account", "non_json_200"): "answered HTTP 200 without valid JSON",
}


def _factory(retry: RetrySettings) -> Any:
    def factory(options: Any, environ: Any) -> AzureSession:
        return AzureSession.from_options(options, environ, retry)
    return factory


def _options(check: str) -> dict[str, Any]:
    return {"service_name": "GraniteFalls.contoso.com", "region": "westus", "checks": [check], "method": "arm",
            "content_enabled": check == "storage_account"}


def _run(env: dict[str, str], check: str, sleeps: list[float]) -> tuple[Any, Any]:
    return one_line_error(lambda: name_availability(_options(check), env, session_factory=_factory(
        RetrySettings(read_timeout=1.0, sleep=sleeps.append))))


def _hits(sandbox: AzureSandbox, method: str, pattern: str) -> int:
    import re
    return len([r for r in sandbox.requests if r.method == method and re.fullmatch(pattern, r.path, re.IGNORECASE)])


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_fault_is_retried_or_one_line(azure_sandbox: AzureSandbox, sandbox_env: dict[str, str], endpoint: str,
                                      fault: str) -> None:
    method, pattern, check, _what = ENDPOINTS[endpoint]
    azure_sandbox.fault(method, pattern, times=1, **FAULTS[fault])
    sleeps: list[float] = []
    result, error = _run(sandbox_env, check, sleeps)
    expected_error = NOT_RETRIED.get((endpoint, fault))
    if expected_error is None:
        assert error is None, f"{endpoint}/{fault} was not retried: {error}"
        assert result["resources"][check]["status"] == "available"
        assert _hits(azure_sandbox, method, pattern) == 2, "the faulty request was sent exactly twice"
        if fault == "429_retry_after":
            assert sleeps == [7.0], "the service's Retry-After was waited for, once"
        assert sum(sleeps) <= RetrySettings().total_seconds
    else:
        assert error is not None, f"{endpoint}/{fault} should fail in one line, got {result}"
        message = str(error)
        assert expected_error in message
        assert azure_sandbox.url in message, f"the message names no endpoint: {message}"
        assert azure_sandbox.client_secret not in message
        assert _hits(azure_sandbox, method, pattern) == 1


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_https_to_http_redirect_is_refused(azure_sandbox: AzureSandbox, sandbox_env: dict[str, str],
                                           plain_http: PlainHttpTrap, endpoint: str) -> None:
    method, pattern, check, _what = ENDPOINTS[endpoint]
    azure_sandbox.fault(method, pattern, status=307, action="redirect", times=5,
                        headers={"Location": f"{plain_http.url}/stolen"})
    sleeps: list[float] = []
    result, error = _run(sandbox_env, check, sleeps)
    assert error is not None, f"a redirect to plain http was followed: {result}"
    assert "307" in str(error) and azure_sandbox.url in str(error)
    assert plain_http.connections == 0
    assert _hits(azure_sandbox, method, pattern) == 1


@pytest.mark.parametrize("endpoint", ["metadata", "dns_label", "key_vault"])
def test_retries_stop_within_the_wait_budget(azure_sandbox: AzureSandbox, sandbox_env: dict[str, str],
                                             endpoint: str) -> None:
    method, pattern, check, _what = ENDPOINTS[endpoint]
    azure_sandbox.fault(method, pattern, status=429, times=50, headers={"Retry-After": "3600"})
    sleeps: list[float] = []
    retry = RetrySettings(total_retries=10, max_retry_after=30, total_seconds=100, sleep=sleeps.append)
    _result, error = one_line_error(lambda: name_availability(_options(check), sandbox_env,
                                                              session_factory=_factory(retry)))
    assert error is not None and "429" in str(error)
    assert sleeps == [30.0, 30.0, 30.0], "each Retry-After capped at 30 s, and no wait that would pass 100 s in total"
    assert _hits(azure_sandbox, method, pattern) == 4
