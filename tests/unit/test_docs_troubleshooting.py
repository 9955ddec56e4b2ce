# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/troubleshooting.md keeps up with the code: every finding code, naming resource and availability status.

The lists come from the code itself (the constants of ``_certificate``, ``_report`` and ``_availability.STATUSES``, which
``NameStatus`` enforces), so a new code or status fails this test until the page has a row for it.
"""

from __future__ import annotations

import re
from pathlib import Path

from ansible_collections.configmgr.cmg.plugins.module_utils import _availability, _certificate, _report

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
_ROW = re.compile(r"^\| `([^`]+)` \|", re.M)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def section(text: str, heading: str) -> str:
    """The body of the section ``heading`` (a ``##``/``###`` title), up to the next heading of its level or higher."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert match is not None, f"no section {heading!r} in {PAGE.name}"
    level = len(match.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, match.end())
    return text[match.end():end.start() if end else len(text)]


def rows(text: str) -> list[str]:
    """The first cell of every table row whose first cell is one code span."""
    return _ROW.findall(text)


def finding_codes() -> set[str]:
    """Every finding code cmg_cert_validate can report."""
    return set(_certificate.SEVERITY) | set(_certificate.NAME_PROBLEM_CODES.values())


def availability_statuses() -> set[str]:
    """Every status cmg_name_available can return (NameStatus refuses any other), and those the report maps."""
    return set(_availability.STATUSES) | set(_report.AVAILABILITY_STATUS)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def test_every_finding_code_has_a_row() -> None:
    documented = rows(section(PAGE.read_text(encoding="utf-8"), "Findings"))
    assert sorted(documented) == sorted(finding_codes())


def test_every_naming_resource_has_a_row() -> None:
    documented = set(rows(section(PAGE.read_text(encoding="utf-8"), "Naming rules")))
    assert documented == set(_certificate.NAME_PROBLEM_CODES)


def test_every_availability_status_has_a_row() -> None:
    statuses = availability_statuses()
    assert {"available", "soft_deleted"} <= statuses  # the statuses were found, not nothing
    documented = rows(section(PAGE.read_text(encoding="utf-8"), "Statuses"))
    assert sorted(documented) == sorted(statuses)


def test_links_lead_somewhere() -> None:
    text = PAGE.read_text(encoding="utf-8")
    anchors = {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    for target in _LINK.findall(text):
        if target.startswith("#"):
            assert target[1:] in anchors, target
        elif "://" not in target:
            assert (PAGE.parent / target.split("#")[0]).is_file(), target


def test_a_missing_code_is_caught() -> None:
    """The checks above can fail: a page without one finding row or one status row no longer matches."""
    text = PAGE.read_text(encoding="utf-8")
    without_code = re.sub(r"^\| `expired` \|.*\n", "", text, flags=re.M)
    assert "expired" not in rows(section(without_code, "Findings"))
    without_status = re.sub(r"^\| `soft_deleted` \|.*\n", "", text, flags=re.M)
    assert sorted(rows(section(without_status, "Statuses"))) != sorted(availability_statuses())
