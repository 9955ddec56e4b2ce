# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prepare role's decisions as filters (``module_utils._prepare``), so that the role only orchestrates.

Filters run on the controller, in the directory ansible-playbook was started from: ``cmg_launch_path``
resolves relative paths there (modules run in the playbook's directory instead). Each filter's
documentation lives beside this file in ``<filter name>.yml``.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.configmgr.cmg.plugins.module_utils._prepare import (
    certificate_stop, cname_skip_reason, csr_next_step, input_problems, launch_path, prepare_names, runs_step,
    source_files)
from ansible_collections.configmgr.cmg.plugins.plugin_utils._filter_errors import filter_errors


@filter_errors
def cmg_launch_path(path: Any) -> str:
    """``path`` made absolute against the directory ansible-playbook was started from ("" stays "")."""
    return launch_path(path)


@filter_errors
def cmg_prepare_inputs(inputs: dict[str, Any], cloud: str | None = None, run_tags: list[str] | None = None,
                       skip_tags: list[str] | None = None) -> list[str]:
    """The problems of the prepare role's inputs, one line each (an empty list when there is none)."""
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("cmg_prepare_inputs expects a dict of the role's inputs")
    return input_problems(inputs, cloud=cloud or None, certificate_step=runs_step("certificate", run_tags, skip_tags))


@filter_errors
def cmg_prepare_names(service_name: str, region: str | None = None, cloud: str | None = None,
                      content_enabled: Any = False, dns_zone: str | None = None,
                      prefix: str | None = None) -> dict[str, Any]:
    """The CMG names, with the DNS zone used only when the service name needs a CNAME."""
    return prepare_names(service_name, region=region or None, cloud=cloud or None,
                         content_enabled=boolean(content_enabled, strict=False), dns_zone=dns_zone or None,
                         prefix=prefix or None)


@filter_errors
def cmg_cname_skip_reason(names: dict[str, Any], manage_cname: Any = True, method: str = "arm",
                          availability: dict[str, Any] | None = None) -> str:
    """Why the CNAME step does not run, or an empty string when it runs."""
    return cname_skip_reason(names, manage_cname=boolean(manage_cname, strict=False), method=method,
                             availability=availability if isinstance(availability, dict) else None)


@filter_errors
def cmg_certificate_stop(result: dict[str, Any], unknown_trust: str = "stop") -> str:
    """The message that stops the run because of the certificate's trust, or an empty string."""
    return certificate_stop(result if isinstance(result, dict) else {}, unknown_trust)


@filter_errors
def cmg_source_files(pfx_path: Any, account_key_path: Any = "") -> dict[str, str]:
    """The key, CSR, certificate, chain and ACME account key files of cmg_certificate_source acme/csr."""
    return source_files(pfx_path, account_key_path or "")


@filter_errors
def cmg_csr_next_step(request: dict[str, Any], certificate_path: Any, check_mode: Any = False) -> str:
    """The message that stops a cmg_certificate_source csr run until the issued certificate is in place."""
    return csr_next_step(request if isinstance(request, dict) else {}, str(certificate_path or ""),
                         boolean(check_mode, strict=False))


class FilterModule:
    """The prepare role's decision filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Map filter names to functions."""
        return {
            "cmg_launch_path": cmg_launch_path,
            "cmg_prepare_inputs": cmg_prepare_inputs,
            "cmg_prepare_names": cmg_prepare_names,
            "cmg_cname_skip_reason": cmg_cname_skip_reason,
            "cmg_certificate_stop": cmg_certificate_stop,
            "cmg_source_files": cmg_source_files,
            "cmg_csr_next_step": cmg_csr_next_step,
        }
