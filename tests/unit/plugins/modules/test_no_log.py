"""Every option of every module that carries a secret is no_log, however the module builds its argument spec."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

import pytest

from ansible_collections.configmgr.cmg.plugins import modules

SECRET = re.compile(r"password|passphrase|secret|hmac_key", re.IGNORECASE)
#: Modules that take no secret at all (the report and monitor writers get results, never credentials).
NO_SECRETS = {"cmg_report", "cmg_monitor_report"}


def _spec(module: Any) -> dict[str, dict[str, Any]]:
    if hasattr(module, "ARGUMENT_SPEC"):
        return module.ARGUMENT_SPEC
    return module.argument_spec()


def _secret_options(spec: dict[str, dict[str, Any]], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, option in spec.items():
        if SECRET.search(name):
            found.append((prefix + name, option))
        found += _secret_options(option.get("options") or {}, f"{prefix}{name}.")
    return found


NAMES = sorted(info.name for info in pkgutil.iter_modules(modules.__path__))


@pytest.mark.parametrize("name", [name for name in NAMES if name not in NO_SECRETS])
def test_secret_options_are_no_log(name: str) -> None:
    module = importlib.import_module(f"{modules.__name__}.{name}")
    secrets = _secret_options(_spec(module))
    assert secrets, f"{name} takes no secret: add it to NO_SECRETS"
    assert [path for path, option in secrets if option.get("no_log") is not True] == []


def test_every_module_is_covered() -> None:
    assert {"cmg_cname", "cmg_cert_validate", "cmg_name_available", "cmg_pfx", "cmg_cert_acme"} <= set(NAMES)
    assert NO_SECRETS <= set(NAMES)
