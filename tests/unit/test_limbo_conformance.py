"""The x509-limbo conformance target: its pass/fail rules and its documentation.

The run itself is ``make limbo`` (it needs ``../shared/x509-limbo/limbo.json``); these tests check the rules
on made-up rows, and that docs/findings.md lists exactly the excused cases.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from tests.conformance import limbo

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)


def row(case_id: str, expected: str, module: str, cryptography: str | None = None, excused: str | None = None) -> dict[str, Any]:
    """One result row as :func:`limbo.conformance` makes it."""
    return {"id": case_id, "features": ["(none)"], "expected": expected, "module": module,
            "cryptography": cryptography or expected, "detail": "d", "excused": excused}


def test_every_excused_case_is_documented() -> None:
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    section = text.split("## Conformance: x509-limbo", 1)[1]
    documented = dict(re.findall(r"^- `([^`]+)`: (.+)\.$", section, re.M))
    assert documented == limbo.EXCUSED


def test_a_crash_fails_the_run_even_when_excused() -> None:
    lines, passed = limbo.report({"rows": [row("a", "SUCCESS", "CRASH", excused="x")], "skipped": {}})
    assert not passed and any(line.startswith("CRASH a") for line in lines)


def excused_rows() -> list[dict[str, Any]]:
    """Every excused case disagreeing as documented, cryptography giving the module's verdict."""
    return [row(case_id, "SUCCESS", "FAILURE", cryptography="FAILURE", excused=why) for case_id, why in limbo.EXCUSED.items()]


def test_an_unexcused_disagreement_fails_and_a_stale_excuse_fails() -> None:
    assert limbo.report({"rows": excused_rows(), "skipped": {}})[1] is True
    unexcused = excused_rows() + [row("other", "SUCCESS", "FAILURE", cryptography="FAILURE")]
    assert limbo.report({"rows": unexcused, "skipped": {}})[1] is False
    assert limbo.report({"rows": excused_rows()[1:], "skipped": {}})[1] is True  # not applicable today: inactive
    rows = excused_rows()
    rows[0]["module"] = rows[0]["expected"]
    lines, passed = limbo.report({"rows": rows, "skipped": {}})
    assert not passed and [line for line in lines if line.startswith("STALE")]


def test_less_agreement_than_cryptography_fails() -> None:
    rows = excused_rows()
    assert limbo.report({"rows": rows, "skipped": {}})[1] is True
    rows[0]["cryptography"] = rows[0]["expected"]
    lines, passed = limbo.report({"rows": rows, "skipped": {}})
    assert not passed and lines[1].startswith(f"agreement: module 0/{len(rows)}, cryptography 1/")


def test_applicability_rules() -> None:
    case = {"validation_kind": "SERVER", "expected_peer_name": {"kind": "DNS", "value": "example.com"}, "crls": [],
            "max_chain_depth": None, "trusted_certs": [], "untrusted_intermediates": [], "peer_certificate": "x",
            "validation_time": None}
    assert limbo.applicable(dict(case, validation_kind="CLIENT"), NOW) == "not a server validation"
    assert limbo.applicable(dict(case, expected_peer_name={"kind": "IP", "value": "::1"}), NOW) == "no DNS peer name"
    assert limbo.applicable(dict(case, crls=["c"]), NOW) == "has CRLs"
    assert limbo.applicable(dict(case, max_chain_depth=1), NOW).startswith("sets max_chain_depth")
    assert limbo.applicable(case, NOW) is None  # an unreadable certificate applies: the module must not crash


def test_missing_file_is_one_line_and_passes(tmp_path: Path, capsys: Any) -> None:
    assert limbo.main(["--limbo", str(tmp_path / "absent.json")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "is not present" in out
