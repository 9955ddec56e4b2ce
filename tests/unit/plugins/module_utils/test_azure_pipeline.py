# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline copies of azure-mgmt-core's defaults, and retries that wait through an injected sleep.

The first tests fail when the SDK changes what a generated client builds: the policy order of
``ARMPipelineClient`` and the error map of generated operations, both copied in ``_azure_pipeline``.
"""

from __future__ import annotations

import inspect
import re

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import AzureSession
from ansible_collections.configmgr.cmg.plugins.module_utils._azure_pipeline import (
    ERROR_MAP, RetrySettings, arm_policies, redirect_policy, retry_policy,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import AzureError


class _Credential:
    def get_token(self, *scopes, **kwargs):  # pragma: no cover - never called: no request is sent
        raise AssertionError("no token is needed to build a client")


def _names(policies):
    return [type(getattr(policy, "_policy", policy)).__name__ for policy in policies]


def _base_names(policies):
    """Class names, our subclasses named by the azure-core class they extend."""
    names = []
    for policy in policies:
        kind = type(getattr(policy, "_policy", policy))
        while kind.__name__ in ("BoundedRetryPolicy", "HttpsOnlyRedirectPolicy"):
            kind = kind.__mro__[1]
        names.append(kind.__name__)
    return names


def test_arm_policy_order_is_the_one_a_generated_client_builds_without_auto_registration():
    from azure.mgmt.keyvault import KeyVaultManagementClient

    client = KeyVaultManagementClient(_Credential(), "sub")
    sdk = _names(client._client._pipeline._impl_policies)
    assert "ARMAutoResourceProviderRegistrationPolicy" in sdk  # the SDK default we leave out on purpose
    ours = _base_names(arm_policies(_Credential(), "https://management.azure.com/.default",
                                    retry_policy(RetrySettings()), redirect_policy()))
    assert ours == [name for name in sdk if name != "ARMAutoResourceProviderRegistrationPolicy"]


def test_error_map_is_the_one_generated_operations_pass():
    from azure.mgmt.keyvault import KeyVaultManagementClient

    client = KeyVaultManagementClient(_Credential(), "sub")
    source = inspect.getsource(type(client.vaults).check_name_availability)
    found = re.search(r"error_map: MutableMapping = \{([^}]*)\}", source)
    assert found, "the generated operation no longer declares an error_map: re-check _azure_pipeline.ERROR_MAP"
    pairs = dict(re.findall(r"(\d{3}): (\w+)", found.group(1)))
    assert {int(status): name for status, name in pairs.items()} == ERROR_MAP


def test_sdk_clients_get_our_retry_and_redirect_policies(monkeypatch):
    env = {"AZURE_CLIENT_ID": "c", "AZURE_SECRET": "s", "AZURE_TENANT": "t", "AZURE_SUBSCRIPTION_ID": "sub",
           "HOME": "/nonexistent"}
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    session = AzureSession.from_options({}, env)
    policies = session.client("keyvault")._client._pipeline._impl_policies
    kinds = [type(getattr(policy, "_policy", policy)).__name__ for policy in policies]
    assert "BoundedRetryPolicy" in kinds and "HttpsOnlyRedirectPolicy" in kinds
    assert kinds.index("HttpsOnlyRedirectPolicy") < kinds.index("BoundedRetryPolicy") < \
        kinds.index("ARMChallengeAuthenticationPolicy")
    assert "ARMAutoResourceProviderRegistrationPolicy" not in kinds  # a read never registers a provider


class _Response:
    def __init__(self, url, location, status=302):
        from azure.core.pipeline.transport import HttpRequest

        self.http_request = HttpRequest("GET", url)
        self.http_response = type("R", (), {"status_code": status, "headers": {"location": location}})()


def test_redirect_leaving_https_is_refused_with_one_line():
    policy = redirect_policy()
    settings = policy.configure_redirects({})
    with pytest.raises(AzureError) as error:
        policy.increment(settings, _Response("https://management.azure.com/x?api-version=1", "http://evil.test/y?t=1"),
                         "http://evil.test/y?t=1")
    assert str(error.value) == ("https://management.azure.com/x answered HTTP 302, a redirect to http://evil.test/y: "
                                "refused, a request that carries a credential never leaves https")


def test_redirect_within_https_is_followed():
    policy = redirect_policy()
    settings = policy.configure_redirects({})
    response = _Response("https://management.azure.com/x", "/other")
    assert policy.increment(settings, response, "/other") is True
    assert response.http_request.url == "https://management.azure.com/other"
