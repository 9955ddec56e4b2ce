"""_monitor: the verdict, the renewal advice and the JUnit file (parsed with junitparser)."""

from __future__ import annotations

from typing import Any

import junitparser
import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._monitor import (
    build_summary, cmg_file, render_all, renewal_advice)


def endpoint(expiry: str = "pass", code: str | None = None, days: int = 200) -> dict[str, Any]:
    """An endpoint result as cmg_endpoint_info returns it (only the keys the report reads)."""
    checks = [{"name": name, "status": "pass", "message": "ok"} for name in
              ("dns", "connect", "tls_version", "trust", "name", "expected")]
    checks.insert(5, {"name": "expiry", "status": expiry, "message": f"{days} days left"})
    findings = [{"code": code, "severity": "warning" if expiry == "warn" else "error", "message": "renew"}] if code else []
    return {"service_name": "GraniteFalls.contoso.com", "checks": checks, "findings": findings,
            "certificate": {"subject": "CN=GraniteFalls.contoso.com", "thumbprint": "AB" * 20, "issuer": "CN=CA",
                            "not_after": "2027-01-01T00:00:00Z", "days_remaining": days},
            "tls": {"version": "TLSv1.3"}, "chain": {"trust": "public"}, "dns": {"deployment_name": "x"}}


def test_a_warning_is_red_only_with_fail_on_warning() -> None:
    results = {"ok": endpoint(), "soon": endpoint("warn", "expiring_soon", 12)}
    assert build_summary(results, "warning")["red"] == ["soon"]
    relaxed = build_summary(results, "error")
    assert relaxed["verdict"] == "pass" and relaxed["counts"] == {"pass": 1, "warn": 1, "fail": 0}


def test_renewal_names_the_certificate_and_the_playbook_only_when_it_exists() -> None:
    soon = endpoint("warn", "expiring_soon", 12)
    manual = renewal_advice(soon)
    assert manual is not None and "thumbprint " + "AB" * 20 in manual and "12 days left" in manual
    assert "Cloud Management Gateway" in manual and "configmgr.cmg.renew" not in manual
    assert "`ansible-playbook configmgr.cmg.renew`" in (renewal_advice(soon, "configmgr.cmg.renew") or "")
    assert renewal_advice(endpoint()) is None


def test_a_failed_task_is_one_failing_case_and_a_missing_result_is_not_a_pass(tmp_path: Any) -> None:
    summary = build_summary({"typo": {"failed": True, "msg": "expected_thumbprint 'x' is neither"}, "lost": None})
    assert summary["red"] == ["lost", "typo"]
    files = render_all(summary)
    path = tmp_path / "junit.xml"
    path.write_text(files["cmg-monitor.junit.xml"], encoding="utf-8")
    cases = [case for suite in junitparser.JUnitXml.fromfile(str(path)) for case in suite]
    assert [(case.classname, case.name, case.is_passed) for case in cases] == [
        ("cmg.lost", "task", False), ("cmg.typo", "task", False)]
    assert cmg_file("a/b c") == "a_b_c.cmg.md" and "a_b_c.cmg.md" not in files


def test_bad_fail_on() -> None:
    with pytest.raises(ValueError):
        build_summary({}, "never")
