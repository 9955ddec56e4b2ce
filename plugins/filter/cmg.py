# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the naming rules of a Configuration Manager cloud management gateway (CMG).

``cmg_prefix``, ``cmg_deployment_name`` and ``cmg_names`` are thin wrappers over
``module_utils._naming``, ``cmg_cloud`` over ``module_utils._clouds.resolve``; their documentation lives beside this file in ``<filter name>.yml``.
Bad input becomes an ``AnsibleFilterError`` with the naming rule's one-line message.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.configmgr.cmg.plugins.module_utils._clouds import resolve
from ansible_collections.configmgr.cmg.plugins.module_utils._naming import derive_names, deployment_name, service_prefix
from ansible_collections.configmgr.cmg.plugins.plugin_utils._filter_errors import filter_errors


def _flag(value: Any, name: str) -> bool:
    """A boolean option given as a boolean or one of Ansible's boolean strings (``yes``, ``true``...)."""
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError(f"{name} must be a boolean, not {value!r}") from None


@filter_errors
def cmg_prefix(name: str, prefix: str | None = None) -> str:
    """``GraniteFalls.contoso.com`` -> ``GraniteFalls``; a wildcard name takes the chosen ``prefix``."""
    return service_prefix(name, prefix)


@filter_errors
def cmg_deployment_name(name: str, region: str | None = None, cloud: str | None = None, method: str = "vmss",
                        prefix: str | None = None) -> str:
    """The Azure deployment name: ``granitefalls.westus.cloudapp.azure.com`` for ``region='West US'``."""
    return deployment_name(name, region=region, cloud=cloud, method=method, prefix=prefix)


@filter_errors
def cmg_names(name: str, region: str | None = None, content_enabled: Any = False, dns_zone: str | None = None,
              cloud: str | None = None, method: str = "vmss", prefix: str | None = None) -> dict[str, Any]:
    """Every CMG name with the problems found (see ``cmg_names.yml``)."""
    return derive_names(name, region=region, cloud=cloud, method=method,
                        content_enabled=_flag(content_enabled, "content_enabled"), dns_zone=dns_zone, prefix=prefix)


@filter_errors
def cmg_cloud(value: str | None = None, region: str | None = None) -> str:
    """The cloud whose naming rules apply: the value, else ``AZURE_CLOUD_ENVIRONMENT``, else ``AzureCloud``
    (a Resource Manager URL follows the cloud of ``region``; see ``cmg_cloud.yml``)."""
    return resolve(value, region=region).name


class FilterModule:
    """The CMG naming filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Map filter names to functions."""
        return {
            "cmg_prefix": cmg_prefix,
            "cmg_deployment_name": cmg_deployment_name,
            "cmg_names": cmg_names,
            "cmg_cloud": cmg_cloud,
        }
