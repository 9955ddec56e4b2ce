# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a valid fully qualified host name is: the rule behind the service name and every other host name option.

Kept apart from ``_naming`` (the CMG's cloud-aware naming rules) so that a module that only checks a host name,
such as ``cmg_cert_request``, carries this file alone. Pure functions, no Ansible, no network.
"""

from __future__ import annotations

import ipaddress
import re

from ._errors import NamingError

EXAMPLE = "GraniteFalls.contoso.com"
# ASCII only, checked with fullmatch (``$`` would accept a trailing newline).
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def require_text(value: object, what: str) -> str:
    """``value`` when it is a string; a NamingError naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise NamingError(f"the {what} must be a string, not {type(value).__name__} ({value!r})")
    return value


def normalize_fqdn(name: str, what: str = "service name", allow_wildcard: bool = False) -> str:
    """Validate a host name and return it without a trailing dot, case kept.

    Refuses empty values, IP addresses, single labels and anything that is not a valid host name.
    ``*`` is allowed as the whole leftmost label only when ``allow_wildcard`` is true.
    """
    if name is None or (isinstance(name, str) and not name.strip().rstrip(".")):
        raise NamingError(f"the {what} is empty: give a fully qualified host name such as {EXAMPLE}")
    value = require_text(name, what).strip()
    if value.endswith("."):
        value = value[:-1]
    _refuse_ip_address(value, what)
    labels = value.split(".")
    if len(labels) < 2:
        raise NamingError(f"the {what} {value!r} is not fully qualified: give a name such as {EXAMPLE}")
    if len(value) > 253:
        raise NamingError(f"the {what} {value!r} is longer than 253 characters")
    for index, label in enumerate(labels):
        if label == "*" and index == 0 and allow_wildcard:
            continue
        if not HOST_LABEL.fullmatch(label):
            raise NamingError(
                f"the {what} {value!r} is not a valid host name: label {label!r} must be 1-63 letters, digits "
                "or hyphens, not starting or ending with a hyphen"
                + ("" if label != "*" else " (a wildcard is not allowed here: choose a prefix)")
            )
    if labels[-1].isdigit():
        raise NamingError(f"the {what} {value!r} is not a valid host name: the top-level domain is numeric")
    return value


def _refuse_ip_address(value: str, what: str) -> None:
    """Raise a NamingError when ``value`` is an IPv4 or IPv6 address (brackets allowed)."""
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return
    raise NamingError(f"the {what} {value!r} is an IP address: a CMG needs a DNS name such as {EXAMPLE}")


def is_wildcard(name: str) -> bool:
    """True when ``name`` is a wildcard name such as ``*.contoso.com``."""
    return isinstance(name, str) and name.strip().startswith("*.")
