# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words of a ``cmg_endpoint_info`` result: finding codes, their severity and check, check statuses.

Kept apart from ``_endpoint`` (which opens connections and reads certificates) so that a module that only
reads endpoint results, such as ``cmg_monitor_report``, carries this file alone. Pure Python, no Ansible.
"""

from __future__ import annotations

# Finding codes (docs/monitor.md lists them with what to do).
UNRESOLVED = "unresolved"
CNAME_WRONG_TARGET = "cname_wrong_target"
UNREACHABLE = "unreachable"
TLS_BELOW_1_2 = "tls_below_1_2"
UNTRUSTED = "untrusted"
NAME_MISMATCH = "name_mismatch"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
EXPIRING_SOON = "expiring_soon"
NOT_EXPECTED_CERTIFICATE = "not_expected_certificate"

SEVERITY = {UNRESOLVED: "error", CNAME_WRONG_TARGET: "error", UNREACHABLE: "error", TLS_BELOW_1_2: "error",
            UNTRUSTED: "error", NAME_MISMATCH: "error", EXPIRED: "error", NOT_YET_VALID: "error",
            EXPIRING_SOON: "warning", NOT_EXPECTED_CERTIFICATE: "error"}
# One check per question an operator asks; every finding code answers exactly one of them.
CHECKS = ("dns", "connect", "tls_version", "trust", "name", "expiry", "expected")
CHECK_OF = {UNRESOLVED: "dns", CNAME_WRONG_TARGET: "dns", UNREACHABLE: "connect", TLS_BELOW_1_2: "tls_version",
            UNTRUSTED: "trust", NAME_MISMATCH: "name", EXPIRED: "expiry", NOT_YET_VALID: "expiry",
            EXPIRING_SOON: "expiry", NOT_EXPECTED_CERTIFICATE: "expected"}
STATUS_OF = {"error": "fail", "warning": "warn", "info": "pass"}
STATUS_RANK = {"skip": 0, "pass": 0, "warn": 1, "fail": 2}
