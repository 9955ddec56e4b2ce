# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every DNS provider, registered: import this module (not a provider file) to use providers.

Each provider file registers its class in ``_dns_core.REGISTRY`` when imported; importing them here,
statically, also makes Ansible ship them with every module that uses DNS providers. A new provider
adds its file and one import line below.
"""

from __future__ import annotations

from typing import Any

from . import _dns_azure, _dns_rfc2136  # noqa: F401  pylint: disable=unused-import  # register the providers
from ._dns_core import REGISTRY, provider_options, provider_required_by, provider_required_if

PROVIDER_NAMES = tuple(sorted(REGISTRY))
DEFAULT_PROVIDER = "azure_dns"


def provider_argument_spec() -> dict[str, dict[str, Any]]:
    """``provider`` (choices: the registered names) and every provider's options."""
    spec: dict[str, dict[str, Any]] = {"provider": {"type": "str", "choices": list(PROVIDER_NAMES),
                                                    "default": DEFAULT_PROVIDER}}
    spec.update(provider_options())
    return spec


def provider_rules() -> dict[str, Any]:
    """``required_if`` and ``required_by`` for AnsibleModule, generated from the registry."""
    return {"required_if": provider_required_if(), "required_by": provider_required_by()}
