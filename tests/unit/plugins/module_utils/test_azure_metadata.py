# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metadata of a Resource Manager URL: https only, no redirect, bounded, every defect one line."""

from __future__ import annotations

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import AzureSession, RetrySettings
from ansible_collections.configmgr.cmg.plugins.module_utils._azure_metadata import (
    MAX_METADATA_BYTES, check_ca_bundle, fetch_metadata, parse_metadata,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import AzureError

URL = "https://stack.example.test/"


def _document(login):
    return {"authentication": {"loginEndpoint": login, "audiences": ["https://stack.example.test/"]}}


@pytest.mark.parametrize("login", [["https://login.example.test/"], {"url": "x"}, 42, True])
def test_login_endpoint_that_is_not_a_string_is_one_line(login):
    with pytest.raises(AzureError) as error:
        parse_metadata(URL, _document(login))
    assert str(error.value) == (f"the cloud metadata of {URL} has an authentication.loginEndpoint that is not a string "
                                f"({type(login).__name__})")


@pytest.mark.parametrize("login", ["http://login.example.test/", "ftp://login.example.test/", "login.example.test",
                                   "https://"])
def test_plain_http_login_endpoint_is_refused(login):
    with pytest.raises(AzureError) as error:
        parse_metadata(URL, _document(login))
    assert str(error.value) == (f"the cloud metadata of {URL} names a login endpoint that is not https ({login!r}): "
                                "refused, the client secret is never sent over plain http")


def test_https_login_endpoint_is_taken():
    cloud = parse_metadata(URL, _document("https://login.example.test"))
    assert (cloud.authority, cloud.audience, cloud.resource_manager, cloud.custom) == (
        "https://login.example.test/", "https://stack.example.test/", URL, True)


def test_missing_ca_bundle_is_one_line(tmp_path):
    missing = str(tmp_path / "nowhere.pem")
    with pytest.raises(AzureError) as error:
        check_ca_bundle({"REQUESTS_CA_BUNDLE": missing})
    assert str(error.value) == (f"REQUESTS_CA_BUNDLE names {missing!r}, which is not a file: set it to the PEM file of "
                                "the CA certificates to trust, or unset it")
    check_ca_bundle({"REQUESTS_CA_BUNDLE": str(tmp_path)})  # a directory of CA files is fine
    check_ca_bundle({})


def test_missing_ca_bundle_fails_the_session_before_any_request(azure_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "gone.pem"))
    with pytest.raises(AzureError) as error:
        AzureSession.from_options({}, azure_sandbox.env())
    assert str(error.value).startswith("REQUESTS_CA_BUNDLE names ")
    assert azure_sandbox.requests == []


def test_metadata_redirect_is_not_followed(azure_sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_sandbox.ca_file)
    azure_sandbox.fault("GET", "/metadata/endpoints", action="redirect", status=302,
                        headers={"Location": "http://127.0.0.1:9/metadata/endpoints"})
    with pytest.raises(AzureError) as error:
        fetch_metadata(azure_sandbox.url, RetrySettings(sleep=lambda _: None))
    assert str(error.value) == (
        f"the cloud metadata endpoint {azure_sandbox.url}/metadata/endpoints?api-version=2015-01-01 answered HTTP 302, "
        "a redirect to 'http://127.0.0.1:9/metadata/endpoints': refused, the document that chooses where credentials go "
        "is only read from the URL given")
    assert len(azure_sandbox.requests) == 1


def test_metadata_larger_than_the_limit_is_refused(azure_sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_sandbox.ca_file)
    azure_sandbox.fault("GET", "/metadata/endpoints", status=200, body=["x" * (MAX_METADATA_BYTES + 10)])
    with pytest.raises(AzureError) as error:
        fetch_metadata(azure_sandbox.url)
    assert str(error.value).endswith(f"answered more than {MAX_METADATA_BYTES} bytes")


def test_metadata_5xx_is_retried_with_the_injected_sleep(azure_sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_sandbox.ca_file)
    azure_sandbox.fault("GET", "/metadata/endpoints", status=503, times=2)
    sleeps = []
    document = fetch_metadata(azure_sandbox.url, RetrySettings(backoff_factor=0.5, sleep=sleeps.append))
    assert isinstance(document, list) and sleeps == [0.5, 1.0]
