# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How DNS names compare and which ones are valid: the rules shared by the DNS core, its providers and
resolution.

Kept apart from ``_dns_core`` so that a module that only resolves names (``cmg_endpoint_info``, the DNS
method of ``cmg_name_available``) carries this file alone, not the record model and the write loop.
Plain Python, no Ansible.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ._errors import DnsError

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalize_name(name: Optional[str]) -> Optional[str]:
    """Lower case, no trailing dot: how names compare."""
    return name.rstrip(".").lower() if name else name


def check_dns_name(value: Any, what: str) -> str:
    """``value`` as a DNS name (lower case, no trailing dot), or a one-line DnsError naming ``what``."""
    text = str(value if value is not None else "").strip()
    name = text.rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DnsError(f"{what} {text[:80]!r} is not a DNS name: use letters, digits, hyphens and dots "
                       "(labels of 1-63 characters, 253 in all)")
    return name
