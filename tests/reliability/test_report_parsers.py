# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports whose certificate fields hold control characters still parse, in every format, with real parsers.

A NUL, an escape sequence or a lone surrogate in a certificate's subject reaches the report through
the check messages. The JSON file must load with ``json``, the JUnit file with ``xml.etree`` and
``junitparser``, and the Markdown must carry no raw control character; each keeps a visible escape.
The report ``mode`` takes permission bits only.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from junitparser import JUnitXml

from ansible_collections.configmgr.cmg.plugins.module_utils._report import (
    FILES, build_report, mode_problem, plan_report, render_all,
)

from .conftest import one_line_error

TIMESTAMP = "2026-01-31T12:00:00Z"
HOSTILE = "Granite\x00Falls\x1b[31m\x07\x7f\x85\ud800\ufffe|end"


def _report(common_name: str) -> dict:
    certificate = {
        "changed": False, "valid": False, "service_name": common_name,
        "findings": [{"code": "cn_not_service_name", "severity": "error",
                      "message": f"the certificate names {common_name!r}, not the service name"}],
        "certificate": {"common_name": common_name, "thumbprint": "AB", "not_after": "2027-01-31T12:00:00Z",
                        "days_remaining": 365, "key_type": "RSA", "key_size": 2048},
        "chain": {"trust": "enterprise", "complete": True, "subjects": [f"CN={common_name}"]},
    }
    return build_report({"certificate": certificate})


def _assert_parses(contents: dict[str, str], raw: str) -> None:
    document = json.loads(contents["json"])
    assert isinstance(document, dict)
    root = ET.fromstring(contents["junit"].encode("utf-8"))
    assert root.tag == "testsuites"
    suites = JUnitXml.fromstring(contents["junit"].encode("utf-8"))
    assert sum(1 for suite in suites for _case in suite) == len(document["checks"])
    bad = [char for char in raw if ord(char) < 0x20 and char not in "\t\n" or 0x7f <= ord(char) <= 0x9f
           or 0xd800 <= ord(char) <= 0xdfff or char in "\ufffe\uffff"]
    for kind in ("markdown", "junit"):
        assert not [char for char in bad if char in contents[kind]], f"a raw control character in the {kind} report"


def test_nul_and_escape_sequences_in_a_certificate_name_are_escaped_everywhere(tmp_path):
    report = _report(HOSTILE)
    plan = plan_report(str(tmp_path), report)  # what cmg_report writes (the module moves it into place)
    for kind, path in plan["paths"].items():
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write(plan["contents"][kind])
    contents = {kind: (tmp_path / name).read_text(encoding="utf-8", errors="surrogatepass") for kind, name in FILES.items()}
    _assert_parses(contents, HOSTILE)
    assert "Granite\\x00Falls\\x1b[31m" in contents["markdown"]
    assert "Granite\\x00Falls" in contents["junit"]
    assert "Granite\\u0000Falls" in contents["json"]


@given(st.text(max_size=80))
@example("\x00")
@example("\ud800")
@example("\x1b]0;title\x07")
def test_any_text_in_a_certificate_name_gives_parseable_reports(common_name):
    contents = render_all(_report(common_name), TIMESTAMP)
    _assert_parses(contents, common_name)


@pytest.mark.parametrize("mode", ["7777", "4755", "2700", "1777", 0o4600, "0o7777", "77777", "u+s", "+t", True])
def test_mode_takes_permission_bits_only(mode):
    problem, error = one_line_error(lambda: mode_problem(mode))
    assert error is None and problem and "\n" not in problem


@pytest.mark.parametrize("mode", ["0600", "640", "0o644", 0o600, "0777", "u=rw,g=r", "u+rwx"])
def test_permission_modes_are_taken(mode):
    assert mode_problem(mode) is None
