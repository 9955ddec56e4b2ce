"""cmg_cert_request through a real ansible-playbook run: check mode, diff, idempotence, no secret in the output."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.ansible import play, run_playbook

pytestmark = pytest.mark.integration
PASSPHRASE = "s3cret-Passphrase-for-test"


def test_request_check_diff_idempotent_and_quiet(tmp_path):
    args = {"service_name": "GraniteFalls.contoso.test", "passphrase": "{{ key_passphrase }}",
            "private_key_path": str(tmp_path / "cmg.key"), "csr_path": str(tmp_path / "cmg.csr")}
    tasks = [{"name": "check", "configmgr.cmg.cmg_cert_request": args, "check_mode": True},
             {"name": "first", "configmgr.cmg.cmg_cert_request": args},
             {"name": "second", "configmgr.cmg.cmg_cert_request": args}]
    run = run_playbook(play(tasks), extra_vars={"key_passphrase": PASSPHRASE}, diff=True, verbosity=3)
    assert run.rc == 0, run.stdout
    assert run.result("check")["changed"] and run.result("check")["changes"] == ["private_key", "csr"]
    assert run.result("first")["changed"] and not run.result("second")["changed"]
    assert "CN=GraniteFalls.contoso.test" in run.result("first")["diff"]["after"]
    assert PASSPHRASE not in run.stdout + run.stderr
    assert "BEGIN ENCRYPTED PRIVATE KEY" not in run.stdout
    assert oct(os.stat(tmp_path / "cmg.key").st_mode & 0o777) == "0o600"
    subprocess.run(["openssl", "req", "-in", str(tmp_path / "cmg.csr"), "-noout", "-verify"], check=True)


def test_bad_key_size_fails_with_a_message(tmp_path):
    run = run_playbook(play([{"name": "bad", "configmgr.cmg.cmg_cert_request": {
        "service_name": "GraniteFalls.contoso.test", "passphrase": "x", "key_size": 1024}, "ignore_errors": True}]))
    assert "value of key_size must be one of: 2048, 4096" in run.result("bad")["msg"]
