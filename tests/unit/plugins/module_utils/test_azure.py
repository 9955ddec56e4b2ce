"""Unit tests of the Azure access layer: settings, clouds, and a session against the local sandbox."""

from __future__ import annotations

import os
import stat
import sys
import threading

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import (
    AZURE_ARGUMENT_SPEC, PIPELINE, AzureSession, RetrySettings, azure_argument_spec, parse_metadata, resolve_cloud,
    resolve_settings, run_concurrently,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import AzureError, MissingDependencyError

SP = {"AZURE_CLIENT_ID": "cid", "AZURE_SECRET": "s3cret", "AZURE_TENANT": "tid", "AZURE_SUBSCRIPTION_ID": "sub"}


def _home(tmp_path, credentials: str | None = None, az: bool = False) -> dict[str, str]:
    """An environment whose HOME (and PATH) are under tmp_path."""
    if credentials is not None:
        (tmp_path / ".azure").mkdir()
        (tmp_path / ".azure" / "credentials").write_text(credentials, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if az:
        (bin_dir / "az").write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
        (bin_dir / "az").chmod(stat.S_IRWXU)
    return {"HOME": str(tmp_path), "PATH": str(bin_dir)}


# -- argument spec ----------------------------------------------------------------------------------

def test_argument_spec_is_a_copy_with_the_secret_hidden():
    spec = azure_argument_spec()
    spec["secret"]["no_log"] = False
    assert AZURE_ARGUMENT_SPEC["secret"] == {"type": "str", "no_log": True}
    assert sorted(spec) == ["auth_source", "client_id", "cloud_environment", "profile", "secret", "subscription_id", "tenant"]
    assert AZURE_ARGUMENT_SPEC["auth_source"]["choices"] == ["auto", "env", "cli", "credential_file", "msi"]


# -- credential source selection ----------------------------------------------------------------------

def test_explicit_options_win_over_environment(tmp_path):
    env = dict(_home(tmp_path), **SP)
    settings = resolve_settings({"client_id": "opt-id", "secret": "hush-123", "tenant": "opt-t", "subscription_id": "opt-sub"}, env)
    assert (settings.auth_source, settings.client_id, settings.secret, settings.tenant, settings.subscription_id) == \
        ("options", "opt-id", "hush-123", "opt-t", "opt-sub")
    assert "hush-123" not in repr(settings)


def test_environment_with_the_alternative_variable_names(tmp_path):
    env = dict(_home(tmp_path), AZURE_CLIENT_ID="cid", AZURE_CLIENT_SECRET="alt", AZURE_TENANT_ID="alt-t",
               AZURE_SUBSCRIPTION_ID="sub", AZURE_CLOUD_ENVIRONMENT="AzureUSGovernment")
    settings = resolve_settings({}, env)
    assert (settings.auth_source, settings.secret, settings.tenant, settings.cloud_environment) == \
        ("env", "alt", "alt-t", "AzureUSGovernment")


def test_first_variable_wins_and_options_fill_gaps(tmp_path):
    env = dict(_home(tmp_path), AZURE_SECRET="first", AZURE_CLIENT_SECRET="second", AZURE_TENANT="t1", AZURE_TENANT_ID="t2",
               AZURE_SUBSCRIPTION_ID="sub")
    settings = resolve_settings({"client_id": "opt-id"}, env)
    assert (settings.auth_source, settings.client_id, settings.secret, settings.tenant) == ("env", "opt-id", "first", "t1")


def test_credentials_file_profile_option(tmp_path):
    env = dict(_home(tmp_path, "[default]\nclient_id=d\nsecret=x\ntenant=t\nsubscription_id=s0\n"
                               "[prod]\nclient_id=p\nsecret=y\ntenant=pt\nsubscription_id=s1\ncloud_environment=AzureUSGovernment\n"),
               **SP)
    settings = resolve_settings({"profile": "prod"}, env)
    assert (settings.auth_source, settings.client_id, settings.subscription_id, settings.cloud_environment, settings.profile) == \
        ("credential_file", "p", "sub", "AzureUSGovernment", "prod")


def test_auto_uses_default_profile_when_no_service_principal(tmp_path):
    env = _home(tmp_path, "[default]\nclient_id=d\nsecret=x\ntenant=t\nsubscription_id=s0\n", az=True)
    settings = resolve_settings({}, env)
    assert (settings.auth_source, settings.client_id, settings.subscription_id) == ("credential_file", "d", "s0")


def test_auto_falls_back_to_cli_then_msi(tmp_path):
    env = dict(_home(tmp_path, az=True), AZURE_SUBSCRIPTION_ID="sub")
    assert resolve_settings({}, env).auth_source == "cli"
    os.remove(tmp_path / "bin" / "az")
    settings = resolve_settings({"client_id": "uami"}, env)
    assert (settings.auth_source, settings.client_id, settings.secret) == ("msi", "uami", None)


def test_cli_reads_the_default_subscription(tmp_path):
    env = _home(tmp_path, az=True)
    (tmp_path / ".azure").mkdir()
    (tmp_path / ".azure" / "azureProfile.json").write_text(
        '\ufeff{"subscriptions": [{"id": "a", "isDefault": false}, {"id": "b", "isDefault": true}]}', encoding="utf-8")
    assert resolve_settings({"auth_source": "cli"}, env).subscription_id == "b"


def test_auth_source_from_environment(tmp_path):
    env = dict(_home(tmp_path, az=True), ANSIBLE_AZURE_AUTH_SOURCE="msi", **SP)
    assert resolve_settings({}, env).auth_source == "msi"
    assert resolve_settings({"auth_source": "env"}, env).auth_source == "env"


@pytest.mark.parametrize("options, env, message", [
    ({"auth_source": "env", "client_id": "c", "secret": "s"}, {"AZURE_SUBSCRIPTION_ID": "x"},
     "the service principal is incomplete: set tenant (options or AZURE_TENANT)"),
    ({"client_id": "c", "secret": "s", "tenant": "t"}, {},
     "no Azure subscription given (auth_source options): set subscription_id or AZURE_SUBSCRIPTION_ID"),
    ({"auth_source": "bogus"}, {}, "unknown auth_source 'bogus': use one of auto, env, cli, credential_file, msi"),
])
def test_settings_errors(tmp_path, options, env, message):
    with pytest.raises(AzureError) as error:
        resolve_settings(options, dict(_home(tmp_path), **env))
    assert str(error.value) == message


def test_missing_profile_section(tmp_path):
    env = _home(tmp_path, "[default]\nclient_id=d\nsecret=x\ntenant=t\n")
    with pytest.raises(AzureError) as error:
        resolve_settings({"profile": "nope"}, env)
    assert str(error.value) == f"the Azure credentials file {tmp_path}/.azure/credentials has no [nope] section (sections: default)"


def test_percent_in_a_credentials_file_secret_is_taken_literally(tmp_path):
    env = _home(tmp_path, "[default]\nclient_id=d\nsecret=ab%cd%(x\ntenant=t\nsubscription_id=s0\n", az=True)
    assert resolve_settings({}, env).secret == "ab%cd%(x"
    assert resolve_settings({"auth_source": "credential_file"}, env).secret == "ab%cd%(x"


@pytest.mark.parametrize("content, message", [
    (b"[default]\nsecret=ab%cd\nsecret=Zq9%secret\n",
     "is not a valid INI file: While reading from '{path}' [line  3]: option 'secret' in section 'default' already exists"),
    (b"[default]\nsecret=ab%cd\nZq9%secret\n", "is not a valid INI file: Source contains parsing errors: '{path}'"),
    (b"[default]\nsecret=ab\xffZq9%secret\n", "is not UTF-8 text"),
])
def test_malformed_credentials_file_gives_one_line_without_values(tmp_path, content, message):
    env = _home(tmp_path, "")
    path = tmp_path / ".azure" / "credentials"
    path.write_bytes(content)
    with pytest.raises(AzureError) as error:
        resolve_settings({"auth_source": "credential_file"}, env)
    assert str(error.value) == f"the Azure credentials file {path} " + message.format(path=path)
    assert error.value.__cause__ is None and error.value.__suppress_context__ is True


# -- clouds ---------------------------------------------------------------------------------------------

LIST_FORM = [
    {"name": "AzureCloud", "resourceManager": "https://management.azure.com/",
     "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": ["https://management.core.windows.net/"]}},
    {"name": "AzureUSGovernment", "resourceManager": "https://arm.gov.example",
     "authentication": {"loginEndpoint": "https://login.gov.example", "audiences": ["https://arm.gov.example/aud"]}},
]
STACK_2015 = {"galleryEndpoint": "https://gallery.local:30016/", "graphEndpoint": "https://graph.windows.net/",
              "portalEndpoint": "https://portal.local/",
              "authentication": {"loginEndpoint": "https://adfs.local/adfs", "audiences": ["https://management.adfs.local/abc"]}}


def test_metadata_2015_form():
    cloud = parse_metadata("https://management.local.azurestack.external", STACK_2015)
    assert (cloud.name, cloud.resource_manager, cloud.authority, cloud.scope, cloud.custom) == (
        "AzureCloud", "https://management.local.azurestack.external/", "https://adfs.local/adfs/",
        "https://management.adfs.local/abc/.default", True)


def test_metadata_list_form_picks_the_matching_cloud():
    cloud = parse_metadata("https://arm.gov.example/", LIST_FORM)
    assert (cloud.name, cloud.resource_manager, cloud.authority, cloud.audience) == (
        "AzureUSGovernment", "https://arm.gov.example/", "https://login.gov.example/", "https://arm.gov.example/aud")


@pytest.mark.parametrize("document, message", [
    (LIST_FORM, "the cloud metadata of https://other.example lists no cloud whose resourceManager is https://other.example"),
    ({"authentication": {"audiences": ["a"]}}, "the cloud metadata of https://other.example has no authentication.loginEndpoint"),
    ({"authentication": {"loginEndpoint": "https://l", "audiences": []}},
     "the cloud metadata of https://other.example has no authentication.audiences"),
    ("text", "the cloud metadata of https://other.example is neither an object nor a list"),
])
def test_metadata_errors(document, message):
    with pytest.raises(AzureError) as error:
        parse_metadata("https://other.example", document)
    assert str(error.value) == message


def test_named_clouds_and_plain_http_refused():
    assert resolve_cloud(None).resource_manager == "https://management.azure.com/"
    gov = resolve_cloud("AzureUSGovernment")
    assert (gov.authority, gov.scope) == ("https://login.microsoftonline.us/", "https://management.usgovcloudapi.net/.default")
    with pytest.raises(AzureError) as error:
        resolve_cloud("http://127.0.0.1:1")
    assert str(error.value) == "the cloud_environment URL 'http://127.0.0.1:1' must be an https URL: credentials are never sent over plain http"
    with pytest.raises(AzureError):
        resolve_cloud("AzureChinaCloud")


# -- a session against the sandbox -------------------------------------------------------------------------

@pytest.fixture
def sandbox_env(azure_sandbox, monkeypatch):
    """The sandbox's environment, with REQUESTS_CA_BUNDLE set in this process for the SDK."""
    env = azure_sandbox.env()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", env["REQUESTS_CA_BUNDLE"])
    return env


def _session(env, retry=None, **options):
    return AzureSession.from_options(options, env, retry)


VAULT_PERMISSION = "Microsoft.KeyVault/checkNameAvailability/read"


def _vault_check(session, name="freevault"):
    client = session.client("keyvault")
    return session.call(f"checking {name}", client.vaults.check_name_availability,
                        {"name": name, "type": "Microsoft.KeyVault/vaults"}, permission=VAULT_PERMISSION)


def _sdk_free(session, name="freevault"):
    """Is the vault name free? Asked through the SDK client."""
    return _vault_check(session, name).name_available


def _arm_json_free(session, name="freevault"):
    """Is the vault name free? Asked through the plain ARM pipeline (AzureSession.arm_json)."""
    answer = session.arm_json("POST", f"/subscriptions/{session.subscription_id}/providers/Microsoft.KeyVault/checkNameAvailability",
                              "2025-05-01", description=f"checking {name}", permission=VAULT_PERMISSION,
                              body={"name": name, "type": "Microsoft.KeyVault/vaults"})
    return answer["nameAvailable"]


#: The two ways to reach Resource Manager: every retry and error test runs through both.
BOTH_PATHS = pytest.mark.parametrize("vault_free", [_sdk_free, _arm_json_free], ids=["sdk", "arm_json"])


def test_session_reports_source_and_cloud_from_list_metadata(azure_sandbox, sandbox_env):
    azure_sandbox.cloud_name = "AzureUSGovernment"
    session = _session(sandbox_env)
    assert (session.auth_source_used, session.cloud_name, session.subscription_id, session.resource_manager) == \
        ("env", "AzureUSGovernment", azure_sandbox.subscription_id, azure_sandbox.url + "/")
    assert session.token_requests == 0 and azure_sandbox.token_requests() == []


def test_one_token_for_concurrent_calls_on_several_clients(azure_sandbox, sandbox_env):
    azure_sandbox.latency = 0.2
    with _session(sandbox_env) as session:
        results = run_concurrently({str(i): (lambda i=i: _vault_check(session, f"vault{i}").name_available) for i in range(6)})
        network = session.client("network")
        assert session.call("dns", network.check_dns_name_availability, "westus", domain_name_label="abc").available is True
    assert results == {str(i): True for i in range(6)}
    assert len(azure_sandbox.token_requests()) == 1
    assert session.client is not None and len(azure_sandbox.arm_requests()) == 7


def test_clients_are_cached_and_kinds_checked(sandbox_env):
    session = _session(sandbox_env)
    assert session.client("network") is session.client("network")
    with pytest.raises(ValueError):
        session.client("sql")


def test_missing_sdk_package_names_the_pip_package(sandbox_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "azure.mgmt.network", None)
    with pytest.raises(MissingDependencyError) as error:
        _session(sandbox_env).client("network")
    assert error.value.package == "azure-mgmt-network"


@BOTH_PATHS
def test_429_is_retried_after_the_retry_after_the_service_sends(azure_sandbox, sandbox_env, vault_free):
    azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 429, times=2, headers={"Retry-After": "1"})
    sleeps = []
    assert vault_free(_session(sandbox_env, RetrySettings(sleep=sleeps.append))) is True
    checks = [r for r in azure_sandbox.arm_requests() if r.path.endswith("checkNameAvailability")]
    assert len(checks) == 3
    assert sleeps == [1.0, 1.0], "each retry waited for the Retry-After the service sent"


@BOTH_PATHS
def test_retry_time_is_bounded_even_with_a_huge_retry_after(azure_sandbox, sandbox_env, vault_free):
    azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 429, times=50, headers={"Retry-After": "3600"})
    sleeps = []
    retry = RetrySettings(total_retries=2, max_retry_after=0.5, total_seconds=5, sleep=sleeps.append)
    with pytest.raises(AzureError) as error:
        vault_free(_session(sandbox_env, retry))
    assert sleeps == [0.5, 0.5], "the hour-long Retry-After was capped at max_retry_after"
    assert str(error.value).startswith("Azure kept throttling (429 Too Many Requests) while checking freevault after 2 retries")
    assert len([r for r in azure_sandbox.arm_requests() if r.path.endswith("checkNameAvailability")]) == 3


@BOTH_PATHS
def test_waits_stop_at_the_total_budget(azure_sandbox, sandbox_env, vault_free):
    azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 429, times=50, headers={"Retry-After": "20"})
    sleeps = []
    retry = RetrySettings(total_retries=10, max_retry_after=30, total_seconds=50, sleep=sleeps.append)
    with pytest.raises(AzureError):
        vault_free(_session(sandbox_env, retry))
    assert sleeps == [20.0, 20.0], "a third wait of 20 s would pass the 50 s budget: the 429 at hand is final"


@BOTH_PATHS
def test_503_is_retried(azure_sandbox, sandbox_env, vault_free):
    azure_sandbox.fault("POST", r".*/Microsoft\.KeyVault/checkNameAvailability", 503, times=1, headers={"Retry-After": "0"})
    sleeps = []
    assert vault_free(_session(sandbox_env, RetrySettings(sleep=sleeps.append))) is True
    assert sleeps == [], "azure-core retries the first 5xx at once (no backoff before the second try)"
    assert len([r for r in azure_sandbox.arm_requests() if r.path.endswith("checkNameAvailability")]) == 2


@BOTH_PATHS
def test_wrong_secret_names_the_principal(azure_sandbox, sandbox_env, vault_free):
    session = _session(dict(sandbox_env, AZURE_SECRET="wrong"))
    with pytest.raises(AzureError) as error:
        vault_free(session)
    assert str(error.value) == (
        f"Azure refused the credentials of the service principal {azure_sandbox.client_id} (env) at {azure_sandbox.url}/: "
        "Authentication failed: AADSTS7000215: Invalid client secret provided.; check client_id, secret and tenant")
    assert "wrong" not in str(error.value)


@BOTH_PATHS
def test_401_from_resource_manager(azure_sandbox, sandbox_env, vault_free):
    azure_sandbox.fault("POST", r".*/checkNameAvailability", 401,
                        body={"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}})
    with pytest.raises(AzureError) as error:
        vault_free(_session(sandbox_env))
    assert str(error.value) == (
        f"Azure refused the credentials of the service principal {azure_sandbox.client_id} (env) while checking freevault: "
        "(InvalidAuthenticationToken) The access token is invalid.; check client_id, secret and tenant")


@BOTH_PATHS
def test_403_names_principal_and_permission(azure_sandbox, sandbox_env, vault_free):
    azure_sandbox.fault("POST", r".*/checkNameAvailability", 403,
                        body={"error": {"code": "AuthorizationFailed", "message": "no authorization"}})
    with pytest.raises(AzureError) as error:
        vault_free(_session(sandbox_env))
    assert str(error.value) == (
        f"the service principal {azure_sandbox.client_id} may not act in subscription {azure_sandbox.subscription_id} while "
        "checking freevault: it lacks the permission Microsoft.KeyVault/checkNameAvailability/read; grant a role that holds "
        "Microsoft.KeyVault/checkNameAvailability/read, such as Reader or the custom role in docs/permissions.md "
        "((AuthorizationFailed) no authorization)")
    assert error.value.details == {"status_code": 403, "error_code": "AuthorizationFailed"}


@pytest.mark.parametrize("permission, advice", [
    ("Microsoft.Network/dnsZones/CNAME/write", "it lacks the permission Microsoft.Network/dnsZones/CNAME/write; grant a role "
                                               "that holds Microsoft.Network/dnsZones/CNAME/write, such as DNS Zone Contributor "
                                               "on the zone"),
    ("Microsoft.Compute/virtualMachines/write", "it lacks the permission Microsoft.Compute/virtualMachines/write; grant a role "
                                                "that holds Microsoft.Compute/virtualMachines/write (docs/permissions.md)"),
    (None, "it lacks the needed permissions; grant a role that holds them (docs/permissions.md)"),
])
def test_403_advice_follows_the_permission(azure_sandbox, sandbox_env, permission, advice):
    """Reader cannot write DNS: a write names a role that holds the permission, DNS Zone Contributor for DNS zones."""
    path = f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/contoso.test/CNAME/cmg"
    azure_sandbox.fault("PUT", r".*/dnsZones/.*", 403, body={"error": {"code": "AuthorizationFailed", "message": "denied"}})
    with pytest.raises(AzureError) as error:
        _session(sandbox_env).arm_json("PUT", path, "2018-05-01", description="creating the CNAME record set cmg",
                                       permission=permission, body={"properties": {"TTL": 3600}})
    assert str(error.value) == (
        f"the service principal {azure_sandbox.client_id} may not act in subscription {azure_sandbox.subscription_id} while "
        f"creating the CNAME record set cmg: {advice} ((AuthorizationFailed) denied)")


def test_arm_json_shares_the_token_and_answers_json(azure_sandbox, sandbox_env):
    with _session(sandbox_env) as session:
        session.warm_up(PIPELINE)
        assert _arm_json_free(session) is True and _sdk_free(session) is True
        assert session.pipeline() is session.pipeline()
        assert session.token_requests == 1
    assert len(azure_sandbox.token_requests()) == 1
    light, sdk = azure_sandbox.arm_requests()
    assert (light.query, light.body, light.headers["authorization"]) == \
        ({"api-version": "2025-05-01"}, {"name": "freevault", "type": "Microsoft.KeyVault/vaults"}, sdk.headers["authorization"])


def test_arm_json_error_of_an_unknown_route(azure_sandbox, sandbox_env):
    with pytest.raises(AzureError) as error:
        _session(sandbox_env).arm_json("GET", f"/subscriptions/{azure_sandbox.subscription_id}/providers/Microsoft.Nothing/here",
                                       "2025-01-01", description="reading nothing")
    assert str(error.value).startswith("Azure answered HTTP 404 while reading nothing: (")
    assert error.value.details["status_code"] == 404


def test_arm_json_verifies_tls_with_the_ca_bundle(azure_sandbox, sandbox_env, monkeypatch):
    """REQUESTS_CA_BUNDLE is what lets the pipeline trust the sandbox: without it, TLS verification fails."""
    session = _session(sandbox_env, RetrySettings(total_retries=0))
    session.credential.get_token(session.cloud.scope)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(AzureError) as error:
        _arm_json_free(session)
    assert str(error.value).startswith(f"the Azure endpoint {azure_sandbox.url}/ did not answer while checking freevault (")
    assert "CERTIFICATE_VERIFY_FAILED" in str(error.value)
    assert azure_sandbox.arm_requests() == []


def test_missing_mgmt_core_names_the_pip_package(sandbox_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "azure.mgmt.core", None)
    with pytest.raises(MissingDependencyError) as error:
        _session(sandbox_env).pipeline()
    assert error.value.package == "azure-mgmt-core"


@BOTH_PATHS
def test_timeout_names_the_endpoint(azure_sandbox, sandbox_env, vault_free):
    session = _session(sandbox_env, RetrySettings(total_retries=0, read_timeout=0.3))
    session.credential.get_token(session.cloud.scope)
    azure_sandbox.latency = 1.0
    with pytest.raises(AzureError) as error:
        vault_free(session)
    assert str(error.value).startswith(f"the Azure endpoint {azure_sandbox.url}/ did not answer while checking freevault (")


def test_unreachable_login_endpoint(sandbox_env):
    session = AzureSession.from_options({}, sandbox_env)
    object.__setattr__(session.cloud, "authority", "https://127.0.0.1:1/")
    with pytest.raises(AzureError) as error:
        _vault_check(session)
    assert str(error.value).startswith("the Azure login endpoint https://127.0.0.1:1/ did not answer (")


def test_run_concurrently_overlaps_and_raises_the_first_error():
    barrier = threading.Barrier(3, timeout=2)
    assert run_concurrently({k: (lambda k=k: (barrier.wait(), k)[1]) for k in "abc"}) == {"a": "a", "b": "b", "c": "c"}

    def fail(message):
        raise AzureError(message)
    with pytest.raises(AzureError) as error:
        run_concurrently({"ok": lambda: 1, "x": lambda: fail("first"), "y": lambda: fail("second")})
    assert str(error.value) == "first"
    assert run_concurrently({}) == {}
