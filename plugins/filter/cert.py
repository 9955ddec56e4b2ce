# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``cmg_cert_info`` filter: facts of a certificate given as PEM text.

A thin wrapper over ``module_utils._certificate``; its documentation lives in ``cmg_cert_info.yml``.
Unreadable input becomes an ``AnsibleFilterError`` with the loader's one-line message.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.configmgr.cmg.plugins.module_utils._certificate import certificate_info
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError


def cmg_cert_info(text: Any) -> dict[str, Any]:
    """Facts of the end-entity certificate in PEM ``text`` (private keys in it are not read)."""
    if not isinstance(text, (str, bytes)):
        raise AnsibleFilterError(f"cmg_cert_info expects PEM text, not {type(text).__name__}")
    try:
        return certificate_info(text)
    except CmgError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """The certificate filters of configmgr.cmg."""

    def filters(self) -> dict[str, Any]:
        """Map filter names to functions."""
        return {"cmg_cert_info": cmg_cert_info}
