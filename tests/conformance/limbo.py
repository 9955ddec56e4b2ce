"""x509-limbo conformance: every applicable server case through cmg_cert_validate's own entry point.

Reads ``../shared/x509-limbo/limbo.json`` (beside the project root; never copied into the project), picks
the applicable cases (:func:`applicable`), runs each through ``cmg_cert_validate.judge`` (the function the
module's ``main`` runs, with the case's trust anchors as ``trust`` and its peer and intermediates as
``content``), turns the result into a limbo verdict (:func:`verdict`) and compares it with the expected
result. The same inputs go to cryptography's own verifier for comparison.

Run: ``.venv/bin/python -m tests.conformance.limbo [--limbo PATH] [--json]``. Prints agreement overall and
per limbo feature; exits 1 when a case crashes (any exception other than the module's one-line
``CmgError``), when a case disagrees without a reason in :data:`EXCUSED`, or when the module agrees less
often than cryptography; exits 0 with one line when the file is absent. docs/findings.md
("Conformance: x509-limbo") documents the rules and every excused case; a unit test keeps the two in step.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import conftest  # noqa: F401  # pylint: disable=unused-import  # makes ansible_collections.configmgr.cmg importable

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from ansible_collections.configmgr.cmg.plugins.modules import cmg_cert_validate

ROOT = Path(__file__).resolve().parents[2]
LIMBO = ROOT.parent / "shared" / "x509-limbo" / "limbo.json"
# Findings that make the chain, trust or name verdict negative for a web PKI client. The CMG-only rules (an RSA
# key, a private key in the file, CRL/AIA URLs, the Azure naming rules) are not part of a limbo verdict.
# san_missing is a warning for the CMG (Windows clients accept a name in the CN only) but says that modern
# clients refuse the certificate, which is what limbo's web PKI cases expect.
VERDICT_CODES = frozenset({"chain_untrusted", "chain_invalid", "chain_incomplete", "name_not_covered", "name_invalid",
                           "service_name_required", "san_missing", "expired", "not_yet_valid", "malformed",
                           "weak_signature_hash", "eku_missing", "eku_no_server_auth", "key_too_small",
                           "cn_not_service_name"})
# Disagreements with a documented reason (docs/findings.md, "Conformance: x509-limbo"): case id -> reason.
LIBRARY = "cryptography's verifier gives the same verdict on the same inputs; the module takes the library's verdict"
CA_LEAF = "the web PKI server profile refuses a CA certificate as the leaf (RFC 5280 alone allows it)"
EKU_REQUIRED = "the CMG requires the Server Authentication EKU in the certificate"
CN_IS_SERVICE = "the CMG takes its service name from the CN, and the CN here is not the name validated"
EXCUSED: dict[str, str] = {
    "pathlen::validation-ignores-pathlen-in-leaf": CA_LEAF,
    "rfc5280::ca-as-leaf": CA_LEAF,
    "rfc5280::eku::ee-without-eku": EKU_REQUIRED,
    "rfc5280::nc::permitted-dns-match-more": CN_IS_SERVICE,
    "webpki::nc::nc-permits-dns-san-pattern": CN_IS_SERVICE,
    "webpki::san::leftmost-wildcard-san": CN_IS_SERVICE,
    "online::amazon.com": CN_IS_SERVICE,
    "online::docs.python.org": CN_IS_SERVICE,
    **{case_id: LIBRARY for case_id in (
        "pathlen::self-issued-certs-pathlen",
        "rfc5280::aki::intermediate-missing-aki",
        "rfc5280::aki::cross-signed-root-missing-aki",
        "rfc5280::nc::permitted-dns-match-noncritical",
        "rfc5280::pc::ica-noncritical-pc",
        "rfc5280::serial::zero",
        "rfc5280::ski::root-missing-ski",
        "rfc5280::ski::intermediate-missing-ski",
        "webpki::aki::root-with-aki-authoritycertissuer",
        "webpki::aki::root-with-aki-authoritycertserialnumber",
        "webpki::aki::root-with-aki-all-fields",
        "webpki::aki::root-with-aki-ski-mismatch",
        "webpki::cn::case-mismatch",
        "webpki::eku::ee-anyeku",
        "webpki::eku::root-has-eku",
        "webpki::san::public-suffix-wildcard-san",
        "webpki::forbidden-p192-leaf",
        "webpki::forbidden-dsa-leaf",
        "webpki::forbidden-rsa-not-divisible-by-8-in-root",
        "webpki::forbidden-rsa-key-not-divisible-by-8-in-leaf",
    )},
}


def _load_certs(pems: list[str]) -> list[Any]:
    from cryptography import x509
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [x509.load_pem_x509_certificate(text.encode()) for text in pems]


def _moment(case: dict[str, Any], now: datetime.datetime) -> datetime.datetime:
    return datetime.datetime.fromisoformat(case["validation_time"]) if case.get("validation_time") else now


def applicable(case: dict[str, Any], now: datetime.datetime) -> str | None:
    """None when the case applies; else why not (server validation of a DNS name, no CRL, no depth limit, and
    every certificate valid now exactly when it was valid at the case's validation time)."""
    if case["validation_kind"] != "SERVER":
        return "not a server validation"
    peer = case.get("expected_peer_name") or {}
    if peer.get("kind") != "DNS":
        return "no DNS peer name"
    if case.get("crls"):
        return "has CRLs"
    if case.get("max_chain_depth") is not None:
        return "sets max_chain_depth (the module has no such option)"
    try:
        certs = _load_certs(case["trusted_certs"] + case["untrusted_intermediates"] + [case["peer_certificate"]])
    except ValueError:
        return None  # unreadable input: it applies (the module must say so, not crash)
    moment = _moment(case, now)
    second = datetime.timedelta(seconds=1)
    for cert in certs:
        if abs(cert.not_valid_after_utc - moment) <= second:  # fractional seconds: cryptography rounds them away
            return "validity ends within a second of the validation time"
        then = cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc
        today = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        if then != today:
            return "validity differs between now and the validation time"
    return None


def verdict(result: dict[str, Any]) -> str:
    """``SUCCESS`` when the module's chain, trust and name verdict is positive, else ``FAILURE``."""
    codes = {item["code"] for item in result["findings"]}
    trusted = result["chain"]["trust"] in ("public", "enterprise")
    return "SUCCESS" if trusted and not codes & VERDICT_CODES else "FAILURE"


def run_module(case: dict[str, Any], directory: Path) -> tuple[str, str]:
    """(verdict, detail) of the module for ``case``; a CmgError is a FAILURE verdict with its message."""
    trust = directory / "trust.pem"
    trust.write_text("".join(case["trusted_certs"]) or "\n")
    params = {name: spec.get("default") for name, spec in cmg_cert_validate.ARGUMENT_SPEC.items()}
    params.update(content=case["peer_certificate"] + "".join(case["untrusted_intermediates"]), trust=str(trust),
                  service_name=case["expected_peer_name"]["value"], fail_on="never")
    try:
        result = cmg_cert_validate.judge(params)
    except CmgError as exc:
        return "FAILURE", f"msg: {exc}"
    bad = [f"{item['code']}: {item['message']}" for item in result["findings"] if item["code"] in VERDICT_CODES]
    return verdict(result), "; ".join(bad) or f"trust {result['chain']['trust']}"


def run_cryptography(case: dict[str, Any], now: datetime.datetime) -> str:
    """cryptography's own verdict on the same inputs (server profile, the case's time)."""
    from cryptography import x509
    from cryptography.x509 import verification
    try:
        builder = (verification.PolicyBuilder().store(verification.Store(_load_certs(case["trusted_certs"])))
                   .time(_moment(case, now)))
        verifier = builder.build_server_verifier(x509.DNSName(case["expected_peer_name"]["value"]))
        verifier.verify(_load_certs([case["peer_certificate"]])[0], _load_certs(case["untrusted_intermediates"]))
    except Exception:  # pylint: disable=broad-except  # any refusal, malformed input included, is a FAILURE
        return "FAILURE"
    return "SUCCESS"


def conformance(path: Path = LIMBO, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Run every applicable case; the summary and one row per case."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cases = json.loads(path.read_text(encoding="utf-8"))["testcases"]
    rows = []
    skipped: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="limbo-") as temp:
        for case in cases:
            why = applicable(case, now)
            if why:
                skipped[why] += 1
                continue
            try:
                got, detail = run_module(case, Path(temp))
            except Exception as exc:  # pylint: disable=broad-except  # a crash is what this run looks for
                got, detail = "CRASH", f"{type(exc).__name__}: {exc}"
            rows.append({"id": case["id"], "features": case["features"] or ["(none)"], "expected": case["expected_result"],
                         "module": got, "cryptography": run_cryptography(case, now), "detail": detail,
                         "excused": EXCUSED.get(case["id"])})
    return {"rows": rows, "skipped": dict(skipped)}


def report(summary: dict[str, Any]) -> tuple[list[str], bool]:
    """The printed lines and whether the run passes."""
    rows = summary["rows"]
    agree = sum(row["module"] == row["expected"] for row in rows)
    crypto = sum(row["cryptography"] == row["expected"] for row in rows)
    lines = [f"x509-limbo: {len(rows)} applicable cases ({sum(summary['skipped'].values())} not applicable: "
             + ", ".join(f"{count} {why}" for why, count in sorted(summary["skipped"].items())) + ")",
             f"agreement: module {agree}/{len(rows)}, cryptography {crypto}/{len(rows)} on the same inputs"]
    features: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        for feature in row["features"]:
            features[feature].append(row)
    for feature, members in sorted(features.items()):
        lines.append(f"  {feature}: module {sum(r['module'] == r['expected'] for r in members)}/{len(members)}, "
                     f"cryptography {sum(r['cryptography'] == r['expected'] for r in members)}/{len(members)}")
    crashes = [row for row in rows if row["module"] == "CRASH"]
    unexcused = [row for row in rows if row["module"] not in (row["expected"], "CRASH") and not row["excused"]]
    excused = [row for row in rows if row["module"] != row["expected"] and row["excused"]]
    for label, members in (("CRASH", crashes), ("DISAGREES", unexcused), ("excused", excused)):
        for row in members:
            lines.append(f"{label} {row['id']}: expected {row['expected']}, module {row['module']} "
                         f"({row['excused'] or row['detail'][:300]})")
    # An excused case that runs and agrees is stale; one that does not apply today (validity) is only inactive.
    stale = sorted(row["id"] for row in rows if row["excused"] and row["module"] == row["expected"])
    lines += [f"STALE excuse {case_id}: the case now agrees; remove its excuse" for case_id in stale]
    passed = not crashes and not unexcused and not stale and agree >= crypto
    lines.append(f"make limbo: {'passed' if passed else 'FAILED'} ({len(crashes)} crashes, {len(unexcused)} "
                 f"unexcused disagreements, {len(excused)} excused)")
    return lines, passed


def main(argv: list[str] | None = None) -> int:
    """Run the conformance target; 0 when it passes or the limbo file is absent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limbo", type=Path, default=Path(os.environ.get("CMG_LIMBO") or LIMBO),
                        help="limbo.json (default: ../shared/x509-limbo/limbo.json beside the project, or $CMG_LIMBO)")
    parser.add_argument("--json", action="store_true", help="print every row as JSON too")
    args = parser.parse_args(argv)
    if not args.limbo.is_file():
        print(f"make limbo: skipped, {args.limbo} is not present (x509-limbo conformance not run)")
        return 0
    summary = conformance(args.limbo)
    lines, passed = report(summary)
    if args.json:
        print(json.dumps(summary["rows"], indent=1))
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
