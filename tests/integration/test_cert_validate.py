"""cmg_cert_validate and cmg_cert_info through a real ansible-playbook run (one run, at -vvv, for every case)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import pki
from tests.support.ansible import PlaybookRun, play, run_playbook
from tests.support.pki import CASES, PASSWORD, UNREADABLE, WRONG_PASSWORD, Corpus, build_corpus

MODULE = "configmgr.cmg.cmg_cert_validate"
pytestmark = pytest.mark.integration


# Passwords reach the play as extra vars, as a vault variable would: Ansible shows the task source on errors.
SECRETS = {PASSWORD: "{{ corpus_password }}", WRONG_PASSWORD: "{{ corpus_wrong_password }}"}


def _options(corpus: Corpus, case: pki.Case, **extra: Any) -> dict[str, Any]:
    options = {**corpus.options(case), **extra}
    if "password" in options:
        options["password"] = SECRETS[options["password"]]
    return options


def _case(name: str) -> pki.Case:
    return next(case for case in CASES if case.name == name)


def _tasks(corpus: Corpus) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = [
        {"name": case.name, MODULE: _options(corpus, case, fail_on="never")} for case in CASES]
    for name, (file, password, _fragment) in UNREADABLE.items():
        args = {"path": str(corpus.path(file)), "trust": str(corpus.public_roots)}
        if password is not None:
            args["password"] = SECRETS[password]
        tasks.append({"name": name, MODULE: args, "ignore_errors": True})
    good = _options(corpus, CASES[0])
    tasks += [
        {"name": "legacy_unavailable", MODULE: _options(corpus, _case("legacy_rc2")),
         "environment": {"CRYPTOGRAPHY_OPENSSL_NO_LEGACY": "1"}, "ignore_errors": True},
        {"name": "fail_on_error", MODULE: _options(corpus, _case("expired")),
         "ignore_errors": True},
        {"name": "fail_on_warning", MODULE: _options(corpus, _case("expiring_soon"), fail_on="warning"), "ignore_errors": True},
        {"name": "check_mode", MODULE: good, "check_mode": True},
        {"name": "previous_other_password", "ignore_errors": True, MODULE: {
            **good, "previous_certificate": str(corpus.path("previous_other_password.pfx"))}},
        {"name": "content_pem", MODULE: {"content": corpus.path("bundle.pem").read_text(), "trust": good["trust"],
                                         "ca_bundle": good["ca_bundle"]}},
        {"name": "path_and_content", MODULE: {"path": good["path"], "content": "-----BEGIN CERTIFICATE-----"}, "ignore_errors": True},
        {"name": "filter", "ansible.builtin.set_fact": {
            "info": "{{ lookup('ansible.builtin.file', '%s') | configmgr.cmg.cmg_cert_info }}" % corpus.path("leaf.pem")}},
        {"name": "filter_result", "ansible.builtin.debug": {"var": "info"}},
    ]
    return tasks


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The certificate corpus."""
    return build_corpus(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def run(corpus: Corpus) -> PlaybookRun:
    """One ansible-playbook -vvv run of every task."""
    return run_playbook(play(_tasks(corpus)), verbosity=3,
                        extra_vars={"corpus_password": PASSWORD, "corpus_wrong_password": WRONG_PASSWORD})


def codes(result: dict[str, Any]) -> set[str]:
    """The finding codes of a task result."""
    return {item["code"] for item in result["findings"]}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_codes_through_ansible(run: PlaybookRun, case: pki.Case) -> None:
    result = run.result(case.name)
    assert run.status(case.name) == "ok", result
    assert codes(result) == case.codes
    assert result["changed"] is False
    assert result["valid"] is not any(item["severity"] == "error" for item in result["findings"])


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_fails_with_one_line_msg(run: PlaybookRun, name: str) -> None:
    result = run.result(name)
    assert run.status(name) == "failed"
    assert UNREADABLE[name][2] in result["msg"] and "\n" not in result["msg"]
    assert "Traceback" not in str(result) and "findings" not in result


def test_legacy_unavailable_message(run: PlaybookRun) -> None:
    result = run.result("legacy_unavailable")
    assert run.status("legacy_unavailable") == "failed"
    assert "uses legacy RC2/3DES PFX encryption that this OpenSSL build cannot decrypt" in result["msg"]


def test_fail_on_keeps_facts_and_findings(run: PlaybookRun) -> None:
    failed = run.result("fail_on_error")
    assert run.status("fail_on_error") == "failed"
    assert failed["msg"].startswith("the certificate has 1 finding(s) at error level or worse: expired: ")
    assert codes(failed) == {"expired", "chain_enterprise"} and failed["valid"] is False
    assert failed["certificate"]["common_name"] == "cmg.contoso.com" and failed["chain"]["trust"] == "enterprise"
    warned = run.result("fail_on_warning")
    assert run.status("fail_on_warning") == "failed" and warned["valid"] is True
    assert warned["msg"].startswith("the certificate has 1 finding(s) at warning level or worse: expiring_soon: ")


def test_check_mode_and_content(run: PlaybookRun) -> None:
    assert run.status("check_mode") == "ok" and codes(run.result("check_mode")) == {"chain_enterprise"}
    assert run.result("check_mode")["certificate"] == run.result("good_rsa2048")["certificate"]
    assert codes(run.result("content_pem")) == {"chain_enterprise"}
    assert run.status("path_and_content") == "failed"
    assert run.result("path_and_content")["msg"] == "parameters are mutually exclusive: path|content"


def test_filter_matches_openssl(run: PlaybookRun, corpus: Corpus) -> None:
    info = run.result("filter_result")["info"]
    oracle = pki.openssl_facts(corpus.path("leaf.pem"))
    assert {key: info[key] for key in oracle} == oracle


def test_no_password_in_verbose_output(run: PlaybookRun) -> None:
    assert run.rc == 0, run.stdout[-3000:]
    assert "wrong password for certificate file" in run.stdout
    for secret in (PASSWORD, WRONG_PASSWORD):
        assert secret not in run.stdout and secret not in run.stderr
    assert "Traceback" not in run.stdout and "Traceback" not in run.stderr


def test_previous_certificate_that_does_not_open_names_it(run: PlaybookRun, corpus: Corpus) -> None:
    result = run.result("previous_other_password")
    previous = str(corpus.path("previous_other_password.pfx"))
    assert run.status("previous_other_password") == "failed" and "findings" not in result
    assert result["msg"] == (
        f"previous_certificate {previous}: wrong password for certificate file {previous!r}: give the password the PFX "
        "was exported with (give the previous certificate as PEM/DER or a PFX with the same password)")
