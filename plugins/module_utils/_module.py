# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where the collection's domain errors become Ansible failures.

This is the only module_utils file that knows about Ansible. Every module calls
:func:`run` with its AnsibleModule and one function of module_utils; a :class:`CmgError` becomes
``fail_json(msg=...)`` with the error's details, a missing Python package becomes
``missing_required_lib``'s message. Anything else is a bug and keeps Ansible's traceback.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible.module_utils.basic import missing_required_lib

from ._errors import CmgError, MissingDependencyError


def diff_mode_only(module: Any, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its ``diff`` kept only when the task runs in diff mode (``--diff``)."""
    diff = result.pop("diff", None)
    if module._diff and diff is not None:  # pylint: disable=protected-access
        result["diff"] = diff
    return result


def run(module: Any, action: Callable[[], dict[str, Any]]) -> None:
    """Call ``action()`` and exit the module with its result, or fail with a one-line message.

    ``action`` returns the module result (a dict with at least ``changed``). A result that holds
    ``failed: True`` and ``msg`` exits through ``fail_json`` with all its other keys.
    """
    try:
        result = action()
    except MissingDependencyError as exc:
        module.fail_json(msg=f"{missing_required_lib(exc.package)} Install it with: pip install {exc.package}")
    except CmgError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    if result.pop("failed", False):
        msg = result.pop("msg", "the task failed")
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)
