# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider-neutral DNS core: no import cycle, the registry drives the argument spec, and the
generic record-set API (TXT as well as CNAME) works the same on a real BIND and on the Azure sandbox."""

from __future__ import annotations

import ast
import pathlib
from typing import Any, Iterator

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils import _dns_core
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_core import (
    HMAC_ALGORITHMS,
    KEY_ALGORITHMS,
    Plan,
    RecordSet,
    converge,
    plan_exact,
    provider_class,
)
from ansible_collections.configmgr.cmg.plugins.module_utils._dns_providers import provider_argument_spec, provider_rules
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import DnsError
from ansible_collections.configmgr.cmg.plugins.modules import cmg_cname
from tests.support.azure_sandbox import AzureSandbox
from tests.support.azure_sandbox import dns as sandbox_dns
from tests.support.bind import BindServer, running_named

UTILS = pathlib.Path(_dns_core.__file__).parent


def _relative_imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "")
            found.update(alias.name for alias in node.names if not node.module)
    return found


def test_core_imports_no_provider_and_providers_no_cname() -> None:
    """The core depends on nothing DNS-specific; providers depend on the core, never on _cname (no cycle)."""
    assert _relative_imports(UTILS / "_dns_core.py") == {"_dns_names", "_errors"}
    assert _relative_imports(UTILS / "_dns_names.py") == {"_errors"}
    for provider in ("_dns_azure.py", "_dns_rfc2136.py"):
        imports = _relative_imports(UTILS / provider)
        assert "_dns_core" in imports and "_cname" not in imports, (provider, imports)
    assert _relative_imports(UTILS / "_dns_resolve.py") <= {"_dns_names", "_errors"}
    assert not {"_dns_azure", "_dns_rfc2136"} & _relative_imports(UTILS / "_cname.py")


def test_registry_drives_the_module_spec() -> None:
    spec = cmg_cname.argument_spec()
    assert spec["provider"]["choices"] == sorted(["azure_dns", "rfc2136"])
    assert spec["key_algorithm"]["choices"] == list(KEY_ALGORITHMS) == list(HMAC_ALGORITHMS) + ["gss-tsig"]
    for option, entry in provider_argument_spec().items():
        assert spec[option] == entry
    assert provider_rules() == {"required_if": [("provider", "rfc2136", ("server",))],
                                "required_by": {"key_secret": ("key_name",)}}
    assert spec["key_secret"]["no_log"] is True


def test_unknown_provider_is_one_line() -> None:
    with pytest.raises(DnsError, match=r"^provider must be one of azure_dns, rfc2136, not 'route53'$"):
        provider_class("route53")


def test_constructors_do_no_network_work(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in azure_sandbox.env().items():
        monkeypatch.setenv(key, value)
    provider_class("azure_dns").from_params({"zone": "contoso.com"}).close()
    # an unresolvable server is no error until the first query
    provider_class("rfc2136").from_params({"server": "no-such-host.invalid", "port": 53}).close()
    # no zone lookup, no token (a URL cloud's metadata is the session's cloud resolution, not the provider's)
    assert (azure_sandbox.arm_requests(), azure_sandbox.token_requests()) == ([], [])


def test_plan_exact() -> None:
    wanted = RecordSet("TXT", ("b", "a"), 60)
    assert plan_exact(RecordSet("TXT"), wanted) == Plan("create", wanted)
    assert plan_exact(RecordSet("TXT", ("a", "b"), 60), wanted) == Plan()
    assert plan_exact(RecordSet("TXT", ("a",), 60), wanted) == Plan("replace", wanted)
    assert plan_exact(RecordSet("TXT", ("a",), 60), None) == Plan("delete")
    assert plan_exact(RecordSet("TXT"), None) == Plan()


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    with running_named(("contoso.test",)) as server:
        yield server


def _txt_cycle(provider: Any, fqdn: str) -> list[Any]:
    """Create, leave alone, replace and delete a TXT set through the generic API; the outcomes."""
    values = ("token-one", 'with "quotes" and ' + "x" * 300)
    outcomes = [converge(provider, fqdn, "TXT", lambda current: plan_exact(current, RecordSet("TXT", values, 60)))]
    assert sorted(provider.read(fqdn, "TXT").values) == sorted(values)
    outcomes.append(converge(provider, fqdn, "TXT", lambda current: plan_exact(current, RecordSet("TXT", values, 60))))
    outcomes.append(converge(provider, fqdn, "TXT", lambda current: plan_exact(current, RecordSet("TXT", ("two",), 60))))
    assert provider.read(fqdn, "TXT").values == ("two",)
    outcomes.append(converge(provider, fqdn, "TXT", lambda current: plan_exact(current, None)))
    assert not provider.read(fqdn, "TXT").exists
    return outcomes


def test_txt_record_set_on_bind(bind: BindServer) -> None:
    provider = provider_class("rfc2136").from_params({"server": bind.host, "port": bind.port, "key_name": bind.key_name,
                                                      "key_secret": bind.key_secret})
    outcomes = _txt_cycle(provider, "_acme-challenge.granitefalls.contoso.test")
    assert [(o.action, o.changed) for o in outcomes] == [
        ("create", True), (None, False), ("replace", True), ("delete", True)]


def test_txt_record_set_in_azure(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in azure_sandbox.env().items():
        monkeypatch.setenv(key, value)
    sandbox_dns.add_zone(azure_sandbox, "contoso.com")
    with provider_class("azure_dns").from_params({}) as provider:
        outcomes = _txt_cycle(provider, "_acme-challenge.granitefalls.contoso.com")
    assert [(o.action, o.changed) for o in outcomes] == [
        ("create", True), (None, False), ("replace", True), ("delete", True)]
    writes = [(r.method, r.path.rsplit("/", 2)[-2:], r.headers.get("if-none-match"), bool(r.headers.get("if-match")))
              for r in azure_sandbox.writes()]
    assert writes == [("PUT", ["TXT", "_acme-challenge.granitefalls"], "*", False),
                      ("PUT", ["TXT", "_acme-challenge.granitefalls"], None, True),
                      ("DELETE", ["TXT", "_acme-challenge.granitefalls"], None, True)]
