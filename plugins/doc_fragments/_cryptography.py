# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the cryptography requirement shared by the modules that read certificates.

The minimum version is stated once in code, ``module_utils._cert_load.MIN_CRYPTOGRAPHY``; a unit test keeps
this fragment and ``requirements.txt`` equal to it.
"""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """``extends_documentation_fragment: configmgr.cmg._cryptography``."""

    DOCUMENTATION = r"""
options: {}
requirements:
  - cryptography >= 45.0.0 (an older version fails the task with a message that names the minimum)
"""
