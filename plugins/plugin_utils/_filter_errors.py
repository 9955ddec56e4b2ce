# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where the collection's domain errors become filter errors (the filters' ``_module.run``)."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from ansible.errors import AnsibleFilterError

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError


def filter_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`CmgError` raised by ``func`` into an ``AnsibleFilterError`` with the same one-line message."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CmgError as exc:
            raise AnsibleFilterError(str(exc)) from None

    return wrapper
