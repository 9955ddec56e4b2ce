# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests of the naming rules and the naming filters over hostile text.

Unicode (IDN, look-alikes, zero-width and full-width characters, case mappings that change
length), whitespace, dots, wildcards and long labels. The invariant: a valid result, or a
``CmgError`` with a one-line message; never another exception. A valid result obeys the rules:
ASCII host names, labels of at most 63 characters, names at most 253, no dot in a prefix.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.configmgr.cmg.plugins.module_utils import _naming
from ansible_collections.configmgr.cmg.plugins.module_utils._clouds import CLOUDS, resolve

from .conftest import one_line_error

#: Characters that break naive host name code: IDN letters, look-alikes, dots of other scripts, zero-width
#: and bidi controls, the Turkish dotted I whose lower case is two characters, and ASCII separators.
TRICKY = "aZ09-._* \t\n\r\x00éßİıКа。．｡\u200b\u200d\u202eﬁＡ\u0301"
LABEL = st.text(alphabet=TRICKY, max_size=70) | st.sampled_from(["xn--bcher-kva", "xn--", "a" * 63, "a" * 64, "*"])
NAME = st.lists(LABEL, min_size=0, max_size=6).map(".".join) | st.text(max_size=300)
ANYTHING = NAME | st.none() | st.integers() | st.booleans() | st.lists(st.text(max_size=5), max_size=2) | st.binary(max_size=10)
REGION = st.sampled_from(["westus", "West US", "(US) West US", "usgovvirginia", "USGov Virginia", "westus ", "WESTUS2",
                          "", "atlantis", "west\u200bus"]) | st.text(alphabet=TRICKY, max_size=30)
CLOUD = st.sampled_from([None, "", "AzureCloud", "azure_public_cloud", "AzureUSGovernment", "us-government", "Mars",
                         "https://stack.example.test/", "http://stack.example.test/"]) | st.text(max_size=20)
_HOST = re.compile(r"[a-z0-9*-]+(\.[a-z0-9-]+)+", re.IGNORECASE)


def _valid_host(name: str) -> None:
    assert name.isascii() and len(name) <= 253 and _HOST.fullmatch(name), name
    assert all(1 <= len(label) <= 63 for label in name.split(".")), name


@given(NAME, st.booleans())
@example("GraniteFalls.contoso.com.", False)
@example("*.contoso.com", True)
@example("İ.contoso.com", False)
@example("a" * 64 + ".com", False)
@example("granitefalls。contoso.com", False)
@example("GraniteFalls.contoso.com\n", False)
@example("[::1]", False)
def test_normalize_fqdn(name: str, wildcard: bool) -> None:
    result, _error = one_line_error(lambda: _naming.normalize_fqdn(name, allow_wildcard=wildcard))
    if result is not None:
        _valid_host(result)
        assert result == name.strip().rstrip(".") or result == name.strip()[:-1]


@given(NAME, st.one_of(st.none(), LABEL))
@example("*.contoso.com", "a.b")
@example("*.contoso.com", " GraniteFalls ")
@example("GraniteFalls.contoso.com", "graniteFALLS")
def test_service_name_and_prefix(name: str, prefix: Any) -> None:
    result, _error = one_line_error(lambda: _naming.service_name(name, prefix))
    if result is not None:
        _valid_host(result)
        chosen = _naming.service_prefix(name, prefix)
        assert "." not in chosen and chosen == result.split(".")[0]
        if prefix not in (None, ""):
            assert chosen.lower() == prefix.strip().lower(), "a prefix is used whole or refused, never cut"


@given(NAME, st.one_of(st.none(), REGION), CLOUD, st.sampled_from(["vmss", "classic", "VMSS", "arm", None]),
       st.booleans(), st.one_of(st.none(), NAME), st.one_of(st.none(), LABEL))
@example("GraniteFalls.contoso.com", "West US", None, "vmss", True, "contoso.com", None)
@example("*.contoso.com", "usgovvirginia", "https://stack.example.test/", "vmss", False, None, "a.b")
def test_derive_names(name: str, region: Any, cloud: Any, method: Any, content: bool, zone: Any, prefix: Any) -> None:
    def derive() -> Any:
        return _naming.derive_names(name, region=region, cloud=cloud, method=method or "vmss", content_enabled=content,
                                    dns_zone=zone, prefix=prefix)
    result, _error = one_line_error(derive)
    if result is not None:
        assert result["cloud_environment"] in CLOUDS
        _valid_host(str(result["service_name"]))
        if result["deployment_name"] is not None:
            _valid_host(str(result["deployment_name"]))
            assert result["deployment_name"] == str(result["deployment_name"]).lower()
        assert all(set(problem) == {"resource", "severity", "message"} and "\n" not in problem["message"]
                   for problem in result["problems"])


@given(ANYTHING, ANYTHING, ANYTHING, ANYTHING)
def test_every_rule_takes_any_type(name: Any, region: Any, cloud: Any, prefix: Any) -> None:
    for call in (lambda: _naming.normalize_fqdn(name), lambda: _naming.normalize_region(region, None),
                 lambda: _naming.cloud_names(cloud), lambda: _naming.service_name(name, prefix),
                 lambda: _naming.deployment_name(name, region, None, "vmss", prefix),
                 lambda: _naming.name_problems(prefix), lambda: _naming.relative_record_name(name, region),
                 lambda: _naming.cname_required(name), lambda: resolve(cloud, {}, region=region)):
        one_line_error(call)


@given(REGION, CLOUD)
@example("(US) West US", None)
@example("USGov Virginia", "AzureCloud")
def test_normalize_region(region: str, cloud: Any) -> None:
    result, _error = one_line_error(lambda: _naming.normalize_region(region, cloud))
    if result is not None:
        assert any(result in record.regions for record in CLOUDS.values())


@given(st.text(alphabet=TRICKY, max_size=80))
@example("a" * 25)
@example("ab")
@example("a--b")
def test_name_problems(prefix: str) -> None:
    result, _error = one_line_error(lambda: _naming.name_problems(prefix, True))
    if result is not None:
        assert {problem["resource"] for problem in result} <= {"dns_label", "key_vault", "storage_account"}


@given(NAME, NAME)
@example("GraniteFalls.contoso.com", "contoso.com")
@example("contoso.com", "contoso.com")
@example("a.xcontoso.com", "contoso.com")
def test_relative_record_name(name: str, zone: str) -> None:
    result, _error = one_line_error(lambda: _naming.relative_record_name(name, zone))
    if result is not None:
        assert result == "@" or (name.lower().rstrip(".").endswith("." + zone.lower().strip().rstrip("."))
                                 and "." + result.lower() + "." in "." + name.strip().lower() + ".")


@given(NAME, st.one_of(st.none(), REGION), CLOUD, st.one_of(st.none(), LABEL))
def test_filters_raise_only_filter_errors(name: str, region: Any, cloud: Any, prefix: Any) -> None:
    from ansible.errors import AnsibleFilterError

    from ansible_collections.configmgr.cmg.plugins.filter import cmg

    for call in (lambda: cmg.cmg_prefix(name, prefix), lambda: cmg.cmg_deployment_name(name, region, cloud, "vmss", prefix),
                 lambda: cmg.cmg_names(name, region, False, None, cloud, "vmss", prefix),
                 lambda: cmg.cmg_cloud(cloud, region=region)):
        try:
            call()
        except AnsibleFilterError as exc:
            assert "\n" not in str(exc).strip()
