# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests of what the Azure access code reads from outside: credentials files, CLI profiles,
metadata documents and the options and environment of a task.

The invariant: a valid result or a ``CmgError`` with a one-line message; never another exception,
never a hang (special files are refused, reads are bounded).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import parse_metadata, resolve_cloud, resolve_settings
from ansible_collections.configmgr.cmg.plugins.module_utils._azure_settings import (
    MAX_CREDENTIALS_BYTES, _cli_subscription, read_credentials_file,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import AzureError

from .conftest import one_line_error

URL = "https://stack.example.test/"
INI_LINES = st.sampled_from(["[default]", "[prod]", "client_id = c", "secret = s%3", "tenant = t", "subscription_id = x",
                             "cloud_environment = AzureUSGovernment", "secret", "= value", "[", "[default", "  x = y",
                             "\ufeff[default]", "client_id: c", "; comment", "[default]\n[default]"])
INI = st.lists(INI_LINES | st.text(max_size=40), max_size=12).map("\n".join)
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30) | \
    st.sampled_from([URL, "http://login.example.test/", "https://login.example.test/", "https://", "AzureUSGovernment"])
KEYS = st.sampled_from(["authentication", "loginEndpoint", "audiences", "name", "resourceManager", "suffixes", "x"])
JSON_DOC = st.recursive(JSON_LEAF, lambda children: st.lists(children, max_size=4)
                        | st.dictionaries(KEYS | st.text(max_size=5), children, max_size=5), max_leaves=25)


def _home(tmp_path: Path, name: str = "credentials") -> Path:
    (tmp_path / ".azure").mkdir(exist_ok=True)
    return tmp_path / ".azure" / name


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=INI | st.binary(max_size=200).map(lambda data: data.decode("latin-1")),
       profile=st.sampled_from(["default", "prod", "missing", "DEFAULT"]))
@example(content="[default]\nclient_id=c\nsecret=%(x)s\ntenant=t\n", profile="default")
@example(content="\udcff", profile="default")
def test_credentials_file(tmp_path: Path, content: str, profile: str) -> None:
    path = _home(tmp_path)
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    result, _error = one_line_error(lambda: read_credentials_file(str(path), profile))
    if result is not None:
        assert all(isinstance(key, str) and isinstance(value, str) and value == value.strip() for key, value in result.items())
    env = {"HOME": str(tmp_path), "PATH": str(tmp_path), "AZURE_PROFILE": profile}
    one_line_error(lambda: resolve_settings({"auth_source": "credential_file", "subscription_id": "s"}, env))
    one_line_error(lambda: resolve_settings({}, env))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(JSON_DOC | st.text(max_size=50))
@example({"subscriptions": [{"isDefault": True, "id": 5}]})
@example({"subscriptions": {"isDefault": True}})
@example([])
def test_cli_profile(tmp_path: Path, document: Any) -> None:
    path = _home(tmp_path, "azureProfile.json")
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    result, _error = one_line_error(lambda: _cli_subscription({"HOME": str(tmp_path)}))
    assert result is None or isinstance(result, str)


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = _home(tmp_path)
    os.mkfifo(fifo)
    _result, error = one_line_error(lambda: read_credentials_file(str(fifo), "default"))
    assert str(error) == f"the Azure credentials file {fifo} is not a regular file"
    _result, error = one_line_error(lambda: read_credentials_file("/dev/zero", "default"))
    assert str(error) == "the Azure credentials file /dev/zero is not a regular file"
    big = tmp_path / "big"
    big.write_bytes(b"[default]\n" + b"; padding\n" * (MAX_CREDENTIALS_BYTES // 10 + 1))
    _result, error = one_line_error(lambda: read_credentials_file(str(big), "default"))
    assert str(error) == f"the Azure credentials file {big} is larger than {MAX_CREDENTIALS_BYTES} bytes"
    # auth_source auto looks for a [default] section: a FIFO there must not block it either.
    done = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        outcome.append(one_line_error(lambda: resolve_settings({}, {"HOME": str(tmp_path), "PATH": str(tmp_path)})))
        done.set()
    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60), "reading a FIFO as the credentials file blocked"


@given(JSON_DOC)
@example({"authentication": {"loginEndpoint": ["https://x/"], "audiences": ["a"]}})
@example({"authentication": {"loginEndpoint": "http://login.example.test/", "audiences": ["a"]}})
@example([{"name": 7, "resourceManager": None, "authentication": {"loginEndpoint": "https://l/", "audiences": [1, "a"]}}])
@example({"authentication": {"loginEndpoint": "https://l:99999/", "audiences": ["a"]}})
def test_metadata_document(document: Any) -> None:
    result, _error = one_line_error(lambda: parse_metadata(URL, document))
    if result is not None:
        assert result.authority.startswith("https://") and result.audience and result.resource_manager == URL
        assert result.name in ("AzureCloud", "AzureUSGovernment") and result.custom


@given(st.text(max_size=60) | st.sampled_from(["https://", "https://[::1", "https://h:0/", "https://h:70000", "HTTPS://H/"]))
@example("A://[")  # found by hypothesis: urlsplit raised ValueError (Invalid IPv6 URL)
def test_cloud_environment_value(value: str) -> None:
    result, error = one_line_error(lambda: resolve_cloud(value, fetch=lambda url: {
        "authentication": {"loginEndpoint": "https://login.example.test/", "audiences": ["https://a/"]}}))
    assert error is None or isinstance(error, AzureError)
    if result is not None:
        assert result.resource_manager.lower().startswith("https://")


@pytest.mark.parametrize("options", [{"auth_source": 5}, {"subscription_id": ["x"]}, {"client_id": {"a": 1}},
                                     {"cloud_environment": 3.5}, {"auth_source": "nonsense"}])
def test_options_of_any_type(tmp_path: Path, options: dict[str, Any]) -> None:
    one_line_error(lambda: resolve_settings(options, {"HOME": str(tmp_path), "PATH": str(tmp_path)}))
